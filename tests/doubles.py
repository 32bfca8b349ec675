"""A read-only backend over generated server groups, for list and paging tests and the
1,000-group benchmark, where creating real groups would take an hour."""

from datetime import UTC, datetime, timedelta

from portal.backends.base import Backend, NotFound, ServerGroup

STATUSES = ["Ready", "Ready", "Ready", "Stopped", "Provisioning"]


class ListBackend(Backend):
    label = "Listed"
    can_restore = False

    def __init__(self, key: str, count: int = 0, prefix: str = "group"):
        super().__init__(key)
        base = datetime(2026, 11, 1, tzinfo=UTC)
        self.groups = [
            ServerGroup(
                backend=key,
                cloud=self.label,
                id=f"{prefix}-{i:04d}",
                name=f"{prefix}-{i:04d}",
                status=STATUSES[i % len(STATUSES)],
                subscription=f"sub-{i % 3}",
                resource_group=f"rg-{(i * 7) % 5}",
                location=["westeurope", "eastus", "northeurope"][i % 3],
                postgresql_version="15",
                coordinator_host=f"c.{prefix}-{i:04d}.example.test",
                coordinator_port=5432,
                node_count=1 + i % 4,
                earliest_restore=base + timedelta(hours=i),
                created_at=base,
                has_backup=True,
            )
            for i in range(count)
        ]
        self.by_name = {group.name: group for group in self.groups}

    def list_server_groups(self):
        return list(self.groups)

    def get_server_group(self, group_id):
        try:
            return self.by_name[group_id]
        except KeyError:
            raise NotFound(f"There is no server group named '{group_id}'.") from None

    find_server_group = get_server_group
