"""Test port ranges, shifted by PORTAL_TEST_PORT_OFFSET so that two checkouts can run
their suites side by side on one machine without their PostgreSQL nodes colliding."""

import os

OFFSET = int(os.environ.get("PORTAL_TEST_PORT_OFFSET", "0"))


def shifted_port(base: int) -> int:
    """``base`` moved by this run's offset."""
    return base + OFFSET
