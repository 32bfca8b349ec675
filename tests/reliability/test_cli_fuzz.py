"""Hypothesis over every argument of ``servergroups`` and ``restore``: bad input is met
with a clear message and a non-zero exit, never a traceback, and creates nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from localcloud.names import name_problem
from localcloud.testing import create_ticks, processes_under, temporary_engine

from .conftest import BASE_PORT, REPO

PORTS = BASE_PORT + 800
SOURCE = "fz-src"
# Derandomized, so that CI runs the same examples every time; widen max_examples (or
# drop derandomize) locally to explore further.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# A word that starts with "-" is an option, which argparse answers itself ("-h" prints
# the help and exits 0): the fuzz is about values, so values never start with "-".
text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=60).filter(
    lambda word: not word.startswith("-")
)
bad_names = text.filter(lambda name: name_problem(name) is not None)
flags = st.lists(st.sampled_from(["--json", "--backend", "local", "nowhere", "-v", "3"]))


@pytest.fixture(scope="module")
def root():
    with temporary_engine(base_port=PORTS) as engine:
        engine.create_group(SOURCE, workers=0, setup=create_ticks)
        yield engine.root
    assert processes_under(engine.root) == []


@pytest.fixture(autouse=True)
def local(settings, root):
    settings.PORTAL_BACKENDS = {
        "local": {
            "BACKEND": "portal.backends.local.LocalBackend",
            "OPTIONS": {"root": str(root), "base_port": PORTS},
        }
    }


def refused(*args: str) -> str:
    """Run the command; it must refuse with a CommandError carrying a message."""
    before = sorted(p.name for p in (REPO / "var").glob("*"))
    with pytest.raises(CommandError) as refusal:
        call_command(*args, stdout=StringIO(), stderr=StringIO())
    message = str(refusal.value)
    assert message.strip() and "Traceback" not in message
    assert sorted(p.name for p in (REPO / "var").glob("*")) == before
    return message


def groups(root) -> set[str]:
    from localcloud import Engine

    return set(Engine(root).catalog.read()["groups"])


@FUZZ
@given(
    action=st.sampled_from(["show", "delete", "start", "stop", "backup", "create"]),
    name=bad_names,
    extra=flags,
)
def test_servergroups_with_a_bad_name_is_refused(root, action, name, extra):
    refused("servergroups", action, name, *extra)
    assert groups(root) == {SOURCE}


@FUZZ
@given(workers=st.one_of(st.integers(max_value=-1), st.integers(min_value=33)), extra=flags)
def test_servergroups_create_with_a_bad_worker_count_is_refused(root, workers, extra):
    refused("servergroups", "create", "fz-new", "--workers", str(workers), *extra)
    assert groups(root) == {SOURCE}


@FUZZ
@given(words=st.lists(text, max_size=4))
def test_servergroups_with_unknown_words_is_refused(root, words):
    if words[:1] in (["list"], ["show"], ["create"]) or not words:
        words = ["frobnicate", *words]
    refused("servergroups", *words)
    assert groups(root) == {SOURCE}


def test_servergroups_list_of_an_unknown_backend_is_refused():
    assert refused("servergroups", "list", "--backend", "nowhere") == (
        "No backend named 'nowhere' is configured."
    )


points = st.one_of(
    text,
    st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat),
    st.datetimes(max_value=datetime(2020, 1, 1), timezones=st.timezones()).map(datetime.isoformat),
    st.datetimes(min_value=datetime.now() + timedelta(days=1), timezones=st.just(UTC)).map(
        datetime.isoformat
    ),
)


@FUZZ
@given(
    source=st.one_of(st.just(SOURCE), text),
    point=st.one_of(st.none(), points),
    name=st.one_of(st.none(), bad_names),
    extra=st.lists(st.sampled_from(["--json", "--wait", "--earliest"])),
)
def test_restore_with_a_bad_source_point_or_name_is_refused(root, source, point, name, extra):
    args = ["restore", source, *extra]
    if point is not None:
        args += ["--point", point]
    if name is not None:
        args += ["--name", name]
    refused(*args)
    assert groups(root) == {SOURCE}


def window_days(root) -> tuple[str, ...]:
    """The dates (UTC) the source's restore window touches, from its earliest point to
    today: two of them when the run crosses midnight."""
    from localcloud import Engine

    day = Engine(root).restore_window(SOURCE)[0].date()
    days = []
    while day <= datetime.now(UTC).date():
        days.append(day.isoformat())
        day += timedelta(days=1)
    return tuple(days)


@FUZZ
@given(point=points)
def test_restore_to_a_point_outside_the_window_is_refused(root, point):
    assume(not point.startswith(window_days(root)))  # such a point may be inside it
    refused("restore", SOURCE, "--point", point, "--name", "fz-copy")
    assert groups(root) == {SOURCE}


@FUZZ
@given(token=text)
def test_restore_resume_with_a_forged_token_is_refused(root, token):
    refused("restore", "--resume", token)
    assert groups(root) == {SOURCE}


@pytest.mark.parametrize(
    "args",
    [
        ["servergroups"],
        ["servergroups", "create", "fz-x", "--workers", "many"],
        ["servergroups", "show", "\udcff-not-utf8"],
        ["restore", SOURCE, "--earliest", "--point", "2020-01-01T00:00:00Z", "--name", "fz-y"],
        ["restore", "--resume", "{not json"],
        ["restore", "--resume", '{"target": "fz-src"}'],
    ],
)
def test_the_real_command_line_exits_non_zero_with_a_message(root, args):
    env = dict(os.environ, LOCALCLOUD_ROOT=str(root), PORTAL_BACKENDS="local")
    env["LOCALCLOUD_BASE_PORT"] = str(PORTS)
    done = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=60,
    )
    stderr = done.stderr.decode(errors="replace")
    assert done.returncode != 0
    assert stderr.strip()
    assert "Traceback" not in stderr
    assert groups(root) == {SOURCE}
