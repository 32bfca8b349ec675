"""The attack from the security review, on real PostgreSQL through the real portal: a
PL/pgSQL function that traps ``query_canceled`` (and so swallows the statement timeout
and the client's cancel) no longer holds a web thread past the deadline, and is not
left running."""

import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from localcloud.preview import preview_node
from localcloud.testing import processes_under, temporary_engine
from portal.backends import get_backend
from tests.local_portal import serve_engine
from tests.ports import shifted_port

pytestmark = pytest.mark.django_db

BASE_PORT = shifted_port(32432)
GROUP = "stubborn"

# Sleeps in small steps and swallows every cancel; gives up by itself after 60 s so that
# a broken guard fails the test instead of hanging it.
STUBBORN = """
CREATE FUNCTION stubborn() RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  started timestamptz := clock_timestamp();
BEGIN
  WHILE clock_timestamp() < started + interval '60 seconds' LOOP
    BEGIN
      PERFORM pg_sleep(0.05);
    EXCEPTION WHEN query_canceled THEN
      NULL;
    END;
  END LOOP;
  RETURN 1;
END $$;
"""


def create_stubborn(node: str, conn) -> None:
    conn.execute("SET ROLE citus")
    conn.execute(STUBBORN)
    conn.execute("RESET ROLE")


@pytest.fixture(scope="module")
def engine():
    with temporary_engine(base_port=BASE_PORT) as engine:
        engine.create_group(GROUP, workers=0, setup=create_stubborn)
        yield engine
    assert processes_under(engine.root) == []


@pytest.fixture
def local_cloud(settings, engine):
    serve_engine(settings, engine)
    settings.PORTAL_PREVIEW_TIMEOUT_SECONDS = 1.0
    return engine


def wait_until(condition, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def stubborn_running(engine, preview_id: str) -> bool:
    record = engine.catalog.read().get("previews", {}).get(preview_id)
    if record is None:
        return False  # the preview, its server and the query are gone
    try:
        with preview_node(engine, record).connect() as conn:
            found = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%stubborn()%' "
                "AND pid <> pg_backend_pid()"
            ).fetchone()[0]
    except psycopg.OperationalError:
        return True  # its server is being stopped: ask again
    return found > 0


def test_a_function_that_traps_cancels_does_not_hold_the_web_thread(operator_client, local_cloud):
    engine = local_cloud
    base = f"/servergroups/local/{GROUP}/restore/preview/"
    earliest = get_backend("local").restore_window(GROUP).earliest
    point = (earliest + timedelta(seconds=1)).replace(microsecond=0)
    assert wait_until(lambda: datetime.now(UTC) > point + timedelta(seconds=1))
    started = operator_client.post(
        base, {"point": point.strftime("%Y-%m-%d %H:%M:%S"), "preview_node": "coordinator"}
    )
    preview_id = started.text.split(base, 1)[1].split("/", 1)[0]
    assert wait_until(lambda: "Read-only query" in operator_client.get(f"{base}{preview_id}/").text)

    answer = operator_client.post(f"{base}{preview_id}/query/", {"sql": "SELECT stubborn()"})

    assert answer.status_code == 200
    assert 'class="error" role="alert"' in answer.text
    # The engine ends the query's backend at the deadline (the server side), or the web
    # thread's own wait runs out first (the portal side): either way a clear message.
    assert any(
        words in answer.text
        for words in ("stopped at its deadline of 1 s", "did not finish within 1 s", "canceling")
    )
    # Nothing keeps running the function: its backend was ended, or its preview closed.
    assert wait_until(lambda: not stubborn_running(engine, preview_id))
