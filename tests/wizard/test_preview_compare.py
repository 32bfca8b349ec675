"""The preview panel's "Compare with now", over a real localcloud: just before a DROP
TABLE, the dropped table is listed with its exact rows at the point and "Dropped since
T", and a table with more rows now says how many more."""

from __future__ import annotations

import re
import time

import pytest

from localcloud.testing import processes_under, temporary_engine
from tests.local_portal import serve_engine
from tests.localcloud.test_preview_truth import ROWS, drop_in_a_busy_transaction, invoices
from tests.ports import shifted_port

pytestmark = pytest.mark.django_db

BASE_PORT = shifted_port(29132)
GROUP = "cmp-now"


@pytest.fixture(scope="module")
def engine():
    with temporary_engine(base_port=BASE_PORT) as engine:
        yield engine
    assert processes_under(engine.root) == []


@pytest.fixture(autouse=True)
def group(engine):
    engine.create_group(GROUP, workers=1, setup=invoices)
    yield GROUP
    engine.delete_group(GROUP)


@pytest.fixture(autouse=True)
def local_only(settings, engine):
    serve_engine(settings, engine)


def ready_panel(client, point) -> tuple[str, str]:
    """Start a preview of worker-1 at ``point`` and poll its panel until it is ready."""
    started = client.post(
        f"/servergroups/local/{GROUP}/restore/preview/",
        {"point": point.strftime("%Y-%m-%d %H:%M:%S.%f"), "preview_node": "worker-1"},
    )
    assert started.status_code == 200, started.text
    preview_id = re.search(r"/restore/preview/([0-9a-f]{12})/", started.text).group(1)
    deadline = time.monotonic() + 120
    while True:
        panel = client.get(f"/servergroups/local/{GROUP}/restore/preview/{preview_id}/")
        assert panel.status_code == 200
        if "preview-tables" in panel.text or "Failed" in panel.text:
            return preview_id, panel.text
        assert time.monotonic() < deadline, "the preview was not ready in 120 s"
        time.sleep(0.2)


def row_of(html: str, table: str) -> str:
    return re.search(rf"<tr><td>{re.escape(table)}</td>.*?</tr>", html, re.S).group(0)


def test_compare_with_now_lists_the_dropped_table_with_its_rows_at_the_point(
    engine, operator_client
):
    point, _ = drop_in_a_busy_transaction(engine, GROUP)

    preview_id, html = ready_panel(operator_client, point)
    engine.preview_close(preview_id)

    assert "Compare with now" in html
    dropped = row_of(html, "public.invoices")
    assert f">{ROWS}<" in dropped and "no such table" in dropped and "Dropped since T" in dropped
    items = row_of(html, "public.items")
    assert ">3<" in items and ">4<" in items and "1 more row now" in items
