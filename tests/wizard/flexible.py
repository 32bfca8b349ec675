"""The portal over Azure flexible servers: the real SDK over FlexibleArm.

Plain functions, so that the wizard tests and the browser suite configure the portal
the same way.
"""

from datetime import UTC, datetime, timedelta

from tests.arm_portal import IMMEDIATE, serve_arm
from tests.fakes.azure_flexible_arm import SUB_A, FlexibleArm

RESTORE_URL = "/servergroups/flexible/sales/restore/"
DETAILS_URL = RESTORE_URL + "details/"
SALES_ID = (
    f"/subscriptions/{SUB_A}/resourceGroups/rg-prod"
    "/providers/Microsoft.DBforPostgreSQL/flexibleServers/sales"
)


def build_flexible_arm(arm: FlexibleArm | None = None) -> FlexibleArm:
    """A geo-redundant single server ``sales`` (westeurope, paired with northeurope) and
    an elastic cluster ``events`` without geo-redundant backup."""
    arm = arm or FlexibleArm()
    earliest = (datetime.now(UTC) - timedelta(days=6)).replace(microsecond=250000)
    sales = arm.add_server(SUB_A, "rg-prod", "sales", geo_redundant=True, earliest_restore=earliest)
    sales.firewall_rules = {"office": ("203.0.113.0", "203.0.113.255")}
    arm.add_server(SUB_A, "rg-prod", "events", cluster_size=4, location="eastus")
    arm.in_progress = 1
    return arm


def use_flexible(settings, arm: FlexibleArm, *, tasks: str = IMMEDIATE) -> None:
    serve_arm(
        settings,
        "flexible",
        "portal.backends.azure_flexible.FlexibleBackend",
        arm,
        SUB_A,
        tasks=tasks,
    )
