"""The Drills pages, schedules, exports and refusals, without PostgreSQL: a backend
double whose restores cost money (as a cloud's do)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from drills import selectors, services
from drills.models import Drill, DrillPlan
from restore_wizard.services.checks import restore_target_problem
from tests.fakes.doubles import PreviewBackend

pytestmark = pytest.mark.django_db

GROUP = "group-0000"
URL = f"/servergroups/cloud/{GROUP}/drills/"


class DeletingCloud(PreviewBackend):
    """A cloud whose restores cost money and that can delete a group afterwards."""

    can_delete = True


@pytest.fixture(autouse=True)
def cloud(settings):
    settings.PORTAL_BACKENDS = {
        "cloud": {"BACKEND": "tests.drills.test_pages.DeletingCloud", "OPTIONS": {"count": 2}}
    }
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def finished_drill(status="passed", rto=1.5, days_ago=0.0, group=GROUP, message="") -> Drill:
    drill = Drill.objects.create(
        backend="cloud",
        group_name=group,
        source_id=group,
        scratch_name=f"{group}-drill-9",
        trigger="schedule",
        started_by_name="schedule",
        status=status,
        rto_seconds=rto,
        message=message,
        checks=[{"node": "coordinator", "check": "amcheck bt_index_check", "passed": True}],
    )
    Drill.objects.filter(pk=drill.pk).update(finished_at=timezone.now() - timedelta(days=days_ago))
    drill.refresh_from_db()
    return drill


def test_the_wizard_refuses_names_reserved_for_drills():
    group = PreviewBackend("cloud", count=1).groups[0]
    problem = restore_target_problem(
        backend=PreviewBackend("cloud"), group=group, target_name="orders-drill-12"
    )
    assert "reserved for restore drills" in problem
    assert (
        restore_target_problem(
            backend=PreviewBackend("cloud"), group=group, target_name="orders-drill-x"
        )
        is None
    )


def test_the_drills_page_is_on_the_blade_and_viewers_only_look(viewer_client):
    html = viewer_client.get(URL).content.decode()
    assert f'href="{URL}"' in html and "Drills" in html
    assert "Only members of the" in html and "Run a drill now</button>" not in html
    assert "billed while it exists" in html
    assert viewer_client.post(URL, {"action": "run"}).status_code == 403
    assert not Drill.objects.exists()


def test_a_cloud_group_is_not_drilled_until_an_operator_accepts_the_cost(operator_client):
    response = operator_client.post(URL, {"action": "run"}, follow=True)
    assert "The drill was not started" in response.content.decode()
    assert "billed while it exists" in response.content.decode()
    assert not Drill.objects.exists()

    operator_client.post(
        URL, {"action": "schedule", "frequency": "off", "cloud_cost_accepted": "on"}
    )
    operator_client.post(URL, {"action": "run", "point_choice": "random"})
    drill = Drill.objects.get()
    assert (drill.status, drill.point_choice, drill.started_by_name) == (
        "queued",
        "random",
        "olivia",
    )
    assert drill.scratch_name == f"{GROUP}-drill-{drill.pk}"


def test_one_drill_per_group_at_once(operator):
    DrillPlan.objects.create(backend="cloud", group_name=GROUP, cloud_cost_accepted=True)
    services.drill_start(backend_key="cloud", group_name=GROUP, trigger="user", user=operator)
    with pytest.raises(services.DrillRefused, match="already queued or running"):
        services.drill_start(backend_key="cloud", group_name=GROUP, trigger="cli")


def test_a_weekly_schedule_runs_on_its_day_at_its_utc_time(operator_client):
    response = operator_client.post(
        URL,
        {
            "action": "schedule",
            "frequency": "weekly",
            "time_utc": "02:30",
            "weekday": "2",
            "point_choice": "earliest",
            "assertions": "select true",
        },
    )
    assert response.status_code == 302
    plan = DrillPlan.objects.get()
    assert plan.next_run_at > timezone.now()
    assert (plan.next_run_at.weekday(), plan.next_run_at.time()) == (2, time(2, 30))
    assert plan.next_run_at.tzinfo is not None
    assert "2:30:00 UTC" in operator_client.get(URL).content.decode()


def test_a_time_that_is_not_a_time_is_refused_with_the_reason(operator_client):
    response = operator_client.post(
        URL, {"action": "schedule", "frequency": "daily", "time_utc": "half past two"}
    )
    assert response.status_code == 400
    assert "is not a time of day; write it as HH:MM in UTC" in response.content.decode()
    assert not DrillPlan.objects.exists()


def test_next_run_is_strictly_later_and_daily_wraps_to_tomorrow():
    plan = DrillPlan(frequency="daily", time_utc=time(2, 30))
    after = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    assert services.next_run(plan, after) == datetime(2026, 11, 26, 2, 30, tzinfo=UTC)
    assert services.next_run(DrillPlan(frequency="off"), after) is None


def test_due_plans_queue_one_drill_each_and_move_on(operator):
    DrillPlan.objects.create(
        backend="cloud",
        group_name=GROUP,
        frequency="daily",
        time_utc=time(1, 0),
        next_run_at=timezone.now() - timedelta(minutes=1),
        cloud_cost_accepted=True,
    )
    first = services.drills_schedule_due()
    again = services.drills_schedule_due()
    assert len(first) == 1 and again == []
    assert Drill.objects.get().trigger == "schedule"


def test_no_drill_starts_while_a_real_restore_is_queued(operator, settings):
    from restore_wizard.models import RestoreOperation

    DrillPlan.objects.create(backend="cloud", group_name=GROUP, cloud_cost_accepted=True)
    drill = services.drill_start(backend_key="cloud", group_name=GROUP, trigger="cli")
    RestoreOperation.objects.create(
        backend="cloud", source_id=GROUP, source_name=GROUP, target_name="new", created_by=operator
    )
    assert services.drill_next_runnable() is None
    RestoreOperation.objects.update(status="running")
    assert services.drill_next_runnable() == drill.pk
    settings.PORTAL_DRILLS_MAX_RUNNING = 1
    finished_drill(status="running", group="group-0001")
    assert services.drill_next_runnable() is None


def test_the_fleet_shows_never_drilled_overdue_and_failures_with_their_reason(viewer_client):
    finished_drill(status="passed", days_ago=30)
    finished_drill(status="failed", rto=None, group="group-0001", message="Check failed: x")
    html = viewer_client.get("/drills/").content.decode()
    assert '<a href="/drills/" aria-current="page">' in html  # in the portal's menu
    assert "Overdue" in html and "Never drilled" in html
    assert "Check failed: x" in html


def test_a_drill_restored_but_not_checked_is_said_apart_and_is_not_a_pass(viewer_client):
    """A drill whose checks could not run proves the restore, not the data: the fleet
    shows it in its own column, and the group stays never drilled or overdue."""
    unchecked = "The restore reached Ready and the scratch group was removed, but no check ran"
    finished_drill(status="unchecked", message=unchecked)
    finished_drill(status="passed", days_ago=30, group="group-0001")
    finished_drill(status="unchecked", days_ago=1, group="group-0001", message=unchecked)

    rows = {row.group_name: row for row in selectors.fleet()[0]}
    assert (rows[GROUP].state, rows[GROUP].last_passed) == ("never drilled", None)
    assert rows[GROUP].last_unchecked.status == "unchecked"
    assert rows["group-0001"].state == "overdue"
    assert rows["group-0001"].last_passed.status == "passed"
    assert rows["group-0001"].last_unchecked.status == "unchecked"

    html = viewer_client.get("/drills/").content.decode()
    assert "Restored, not checked (UTC)" in html
    assert html.count("no check ran, so it is not a passed drill") == 2
    group_html = viewer_client.get(URL).content.decode()
    assert '<span class="status status-unchecked">Restored, not checked</span>' in group_html
    assert 'class="drill-bar drill-bar-unchecked"' in group_html
    assert "drill-bar-passed" not in group_html

    row = next(
        csv.DictReader(
            io.StringIO(
                viewer_client.get(
                    f"/drills/export.csv?backend=cloud&group={GROUP}"
                ).content.decode()
            )
        )
    )
    assert (row["status"], row["message"]) == ("unchecked", unchecked)
    items = json.loads(
        viewer_client.get(f"/drills/export.json?backend=cloud&group={GROUP}").content
    )
    assert [item["status"] for item in items] == ["unchecked"]


def test_the_chart_is_drawn_without_inline_styles(viewer_client):
    for rto in (1.0, 2.0, 4.0):
        finished_drill(rto=rto)
    chart = selectors.rto_chart(list(Drill.objects.all()))
    assert [bar.height for bar in chart.bars][-1] == max(bar.height for bar in chart.bars)
    html = viewer_client.get(URL).content.decode()
    assert html.count('class="drill-bar drill-bar-passed"') == 3
    assert "style=" not in html.split("<svg", 1)[1].split("</svg>", 1)[0]


def test_exports_carry_the_evidence_as_csv_and_json(viewer_client):
    drill = finished_drill()
    response = viewer_client.get(f"/drills/export.csv?backend=cloud&group={GROUP}")
    assert response["Content-Disposition"] == f'attachment; filename="drills-{GROUP}.csv"'
    row = next(csv.DictReader(io.StringIO(response.content.decode())))
    assert (row["id"], row["status"], row["time_to_ready_s"]) == (str(drill.pk), "passed", "1.5")
    assert row["checks"] == "coordinator amcheck bt_index_check: passed"
    items = json.loads(viewer_client.get("/drills/export.json").content)
    assert items[0]["checks"][0]["check"] == "amcheck bt_index_check"
    assert viewer_client.get("/drills/export.xml").status_code == 404


def test_the_cli_refuses_an_unknown_group_with_the_reason():
    with pytest.raises(CommandError, match="no server group named 'nowhere'"):
        call_command("drill", "nowhere")


def test_a_drills_evidence_page_shows_every_check_phase_and_the_clean_up(viewer_client):
    drill = finished_drill(status="failed", message="Check failed on coordinator: amcheck")
    Drill.objects.filter(pk=drill.pk).update(
        phases=[{"name": "restore", "seconds": 1.25}, {"name": "clean-up", "seconds": 0.5}],
        nodes={"coordinator": {"backup": "20261125T010203Z", "bytes_restored": 4096}},
        row_counts={"coordinator": {"public.orders": 501}},
        cleanup="Deleted the scratch server group group-0000-drill-9.",
    )

    html = viewer_client.get(f"/drills/{drill.pk}/").content.decode()

    for text in (
        "Check failed on coordinator: amcheck",
        "amcheck bt_index_check",
        "20261125T010203Z",
        "public.orders",
        "1.25",
        "Deleted the scratch server group group-0000-drill-9.",
        "UTC",
    ):
        assert text in html, text
    assert '<div id="evidence">' in html  # a finished drill is not polled
    partial = viewer_client.get(URL, headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<div id="drill-list"')


def test_overdue_follows_each_groups_schedule_not_a_fixed_age(settings):
    settings.PORTAL_DRILL_OVERDUE_GRACE_HOURS = 6
    settings.PORTAL_DRILL_OVERDUE_DAYS = 8
    # group-0000 runs daily: a passed drill 1.5 days old means a missed day.
    DrillPlan.objects.create(
        backend="cloud", group_name=GROUP, frequency="daily", time_utc=time(2, 0)
    )
    finished_drill(days_ago=1.5)
    # group-0001 runs weekly: 3 days old is on time.
    DrillPlan.objects.create(
        backend="cloud", group_name="group-0001", frequency="weekly", time_utc=time(2, 0)
    )
    finished_drill(days_ago=3, group="group-0001")
    states = {row.group_name: row.state for row in selectors.fleet()[0]}
    assert states == {GROUP: "overdue", "group-0001": "ok"}

    # A day plus the grace is still on time; a week plus the grace and a bit is not.
    Drill.objects.filter(group_name=GROUP).update(finished_at=timezone.now() - timedelta(hours=29))
    Drill.objects.filter(group_name="group-0001").update(
        finished_at=timezone.now() - timedelta(days=7, hours=7)
    )
    states = {row.group_name: row.state for row in selectors.fleet()[0]}
    assert states == {GROUP: "ok", "group-0001": "overdue"}

    # Without a schedule the configured number of days applies.
    DrillPlan.objects.filter(group_name="group-0001").update(frequency="off")
    assert {row.group_name: row.state for row in selectors.fleet()[0]}["group-0001"] == "ok"


def test_a_queued_drill_is_cancelled_by_an_operator_and_viewers_cannot(client, viewer, operator):
    DrillPlan.objects.create(backend="cloud", group_name=GROUP, cloud_cost_accepted=True)
    drill = services.drill_start(backend_key="cloud", group_name=GROUP, trigger="cli")
    url = f"/drills/{drill.pk}/"
    client.force_login(viewer)
    assert "Cancel drill</button>" not in client.get(url).content.decode()
    assert client.post(f"{url}cancel/").status_code == 403
    client.force_login(operator)
    operator_client = client
    assert "Cancel drill</button>" in operator_client.get(url).content.decode()

    html = operator_client.post(f"{url}cancel/", follow=True).content.decode()

    drill.refresh_from_db()
    assert drill.status == "cancelled" and drill.cleanup == "Nothing was created."
    assert "is cancelled; it had not started" in html
    assert "Cancelled by olivia at" in html and "UTC" in html
    again = operator_client.post(f"{url}cancel/", follow=True).content.decode()
    assert "has already ended (cancelled); there is nothing to cancel" in again
    # A new drill of the group may start: a cancelled drill holds no place.
    assert services.drill_start(backend_key="cloud", group_name=GROUP, trigger="cli")
