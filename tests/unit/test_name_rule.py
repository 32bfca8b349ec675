"""One rule per cloud for a new group's name, with one length limit: the check, the
wizard's form, the field's maxlength and its help all use the same, within what the
portal's restore records keep."""

from datetime import UTC, datetime, timedelta

import pytest

from localcloud import names
from portal.backends import azure, azure_flexible
from portal.backends.base import NAME_MAX_LENGTH, RestoreWindow, ServerGroup
from portal.backends.local import LocalBackend
from restore_wizard.forms import RestoreForm
from restore_wizard.models import RestoreOperation

CLOUDS = [
    (LocalBackend, names.name_problem),
    (azure.AzureBackend, azure.cluster_name_problem),
    (azure_flexible.FlexibleBackend, azure_flexible.server_name_problem),
]


@pytest.mark.parametrize(("cloud", "rule"), CLOUDS)
def test_each_clouds_longest_name_fits_the_restore_records(cloud, rule):
    target_column = RestoreOperation._meta.get_field("target_name").max_length
    assert cloud.name_max_length <= NAME_MAX_LENGTH == target_column
    assert rule("a" * cloud.name_max_length) is None


@pytest.mark.parametrize(("cloud", "rule"), CLOUDS)
def test_one_over_the_limit_is_refused_with_the_rule_in_words(cloud, rule):
    problem = rule("a" * (cloud.name_max_length + 1))
    assert problem is not None
    assert problem.endswith(cloud.name_rule_text)
    assert f"{cloud.name_max_length} characters" in cloud.name_rule_text


def test_the_form_refuses_one_over_the_limit_with_the_rules_text(tmp_path):
    backend = LocalBackend(root=tmp_path / "localcloud")
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    group = ServerGroup(
        backend="local",
        cloud="Local",
        id="src",
        name="src",
        status="Ready",
        subscription="local",
        resource_group="localcloud",
        location="local",
        has_backup=True,
    )
    too_long = "a" * (backend.name_max_length + 1)
    form = RestoreForm(
        data={"choice": "earliest", "target_name": too_long},
        backend=backend,
        group=group,
        window=RestoreWindow(now - timedelta(days=1), now),
        now=now,
    )

    assert not form.is_valid()
    assert form.errors["target_name"] == [
        f"'{too_long}' is not a valid server group name. {backend.name_rule_text}"
    ]
