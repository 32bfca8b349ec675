"""No input to OK makes a 500, and whatever is accepted is a valid restore."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.backends.azure import NAME_RULE
from restore_wizard.models import RestoreOperation

from .conftest import LOCATION, RESOURCE_GROUP, RESTORE_URL, SOURCE, SUB_A, details_form

pytestmark = pytest.mark.django_db

SOURCE_ID = (
    f"/subscriptions/{SUB_A}/resourceGroups/{RESOURCE_GROUP}"
    f"/providers/Microsoft.DBforPostgreSQL/serverGroupsv2/{SOURCE}"
)

texts = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
    st.builds(lambda c, n: c * n, st.characters(), st.integers(1_000, 200_000)),
    st.sampled_from(["\x00", "orders\x00", "' OR 1=1 --", "<script>", "%00", "\u202e", "🐘"]),
)

odd_datetimes = st.builds(
    lambda moment, minutes, sep, suffix: (
        moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(sep=sep)
        if suffix == "offset"
        else moment.isoformat(sep=sep) + suffix
    ),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
    st.sampled_from(["T", " "]),
    st.sampled_from(["", "Z", "z", "offset", "+99:99", "junk"]),
)

names = st.one_of(texts, st.from_regex(NAME_RULE, fullmatch=True), st.just(SOURCE))


def field(valid: str, other=texts):
    return st.one_of(st.just(valid), st.just(""), other)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    choice=field("custom", st.one_of(st.just("earliest"), texts)),
    point=st.one_of(odd_datetimes, texts),
    target_name=names,
    subscription=field(SUB_A),
    resource_group=field(RESOURCE_GROUP),
    location=field(LOCATION),
    source_id=field(SOURCE_ID),
    idempotency_key=st.one_of(st.uuids().map(str), texts),
    htmx=st.booleans(),
)
def test_no_input_makes_a_500_and_only_valid_input_starts_a_restore(
    operator_client,
    azure,
    django_capture_on_commit_callbacks,
    choice,
    point,
    target_name,
    subscription,
    resource_group,
    location,
    source_id,
    idempotency_key,
    htmx,
):
    posted = {
        "choice": choice,
        "point": point,
        "target_name": target_name,
        "subscription": subscription,
        "resource_group": resource_group,
        "location": location,
        "source_id": source_id,
        "idempotency_key": idempotency_key,
    }
    before = set(RestoreOperation.objects.values_list("pk", flat=True))
    headers = {"HX-Request": "true"} if htmx else {}

    with django_capture_on_commit_callbacks(execute=False):
        response = operator_client.post(RESTORE_URL, posted, headers=headers)

    assert response.status_code in (200, 302)
    made = RestoreOperation.objects.exclude(pk__in=before)
    accepted = response.status_code == 302 or "HX-Redirect" in response
    if not accepted:
        assert not made.exists()
        assert 'role="alert"' in response.content.decode()
        return
    for operation in made:
        assert operation.choice in ("earliest", "custom")
        assert NAME_RULE.match(operation.target_name) and operation.target_name != SOURCE
        assert operation.source_id == SOURCE_ID
        if operation.choice == "custom":
            assert operation.requested_point <= datetime.now(UTC)


def test_details_step_survives_any_choice(operator_client, azure):
    for choice in ["\x00", "custom\x00", "x" * 100_000, "🐘", ""]:
        response = operator_client.get(RESTORE_URL + "details/", {"choice": choice})
        assert response.status_code == 200


def test_check_name_survives_any_name(operator_client, azure):
    for name in ["\x00", "a" * 100_000, "🐘-🐘", "orders\x00x", "-"]:
        response = operator_client.get(RESTORE_URL + "check-name/", {"target_name": name})
        assert response.status_code == 200
        assert not azure.requests_to("POST", "checkNameAvailability")


def test_a_valid_earliest_form_is_accepted(
    operator_client, azure, django_capture_on_commit_callbacks
):
    form = {**details_form(operator_client), "target_name": "orders-fuzz"}
    with django_capture_on_commit_callbacks(execute=False):
        assert operator_client.post(RESTORE_URL, form).status_code == 302
