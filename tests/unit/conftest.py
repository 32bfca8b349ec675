"""tests/unit touches no database and no PostgreSQL: a test that asks for one is refused
here, by name, before anything runs. Tests of pages against the portal's database live in
tests/portal (or the suite of their subject: wizard, security, ...)."""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DATABASE_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "live_server"}


def pytest_collection_modifyitems(config, items):
    asking = [
        item.nodeid
        for item in items
        if Path(str(item.fspath)).resolve().is_relative_to(HERE)
        and (
            item.get_closest_marker("django_db")
            or DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        )
    ]
    if asking:
        raise pytest.UsageError(
            "tests/unit touches no database; move these to tests/portal or the suite of "
            "their subject: " + ", ".join(asking)
        )
