"""A server group's blade over a real localcloud: every page renders without scripts,
viewers see, only operators change, the password only to operators, and Delete asks
for the name and refuses while a restore runs."""

import re

import pytest
from django.test import Client

from localcloud.parameters import PARAMETERS
from localcloud.testing import temporary_engine
from portal.models import ActivityEvent, Notification
from restore_wizard.models import RestoreOperation
from tests.local_portal import serve_engine
from tests.ports import shifted_port

pytestmark = pytest.mark.django_db

BASE_PORT = shifted_port(34432)
SOURCE = "alpha"
RESTORED = "alpha-r"
BLADE = f"/servergroups/local/{SOURCE}/"
RESTORED_BLADE = f"/servergroups/local/{RESTORED}/"


@pytest.fixture(scope="module")
def engine():
    with temporary_engine(base_port=BASE_PORT) as engine:
        engine.create_group(SOURCE, workers=1)
        engine.restore(SOURCE, RESTORED)
        yield engine


@pytest.fixture(autouse=True)
def local_cloud(settings, engine):
    serve_engine(settings, engine)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return engine


@pytest.fixture
def viewer_client(viewer):
    """Its own client, so a test may act as the viewer and the operator side by side."""
    client = Client()
    client.force_login(viewer)
    return client


@pytest.fixture
def operator_client(operator):
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def clean_rules(engine):
    """Each test starts (and leaves) both groups without firewall rules or parameters."""

    def clear():
        for name in (SOURCE, RESTORED):
            group = engine.get_group(name)
            for rule in group.firewall_rules:
                engine.delete_firewall_rule(name, rule.name)
            for parameter in group.parameters:
                engine.set_parameter(name, parameter, PARAMETERS[parameter].default)

    clear()
    yield engine
    clear()


def menu_of(html: str) -> list[str]:
    nav = html.split('<nav class="blade-menu"')[1].split("</nav>")[0]
    return re.findall(r"</svg>([^<]+)</a>", nav)


def current_entry(html: str) -> str:
    nav = html.split('<nav class="blade-menu"')[1].split("</nav>")[0]
    return re.search(r'aria-current="page">.*?</svg>([^<]+)</a>', nav)[1]


PAGES = {
    "": ("Overview", "Essentials"),
    "activity/": ("Activity log", "Activity log"),
    "nodes/": ("Nodes", "worker-1"),
    "networking/": ("Networking", "Firewall rules"),
    "parameters/": ("Server parameters", "Changed from the defaults"),
    "connection-strings/": ("Connection strings", "jdbc:postgresql://127.0.0.1:"),
    "backup-and-restore/": ("Backup and restore", "Base backups"),
    "drills/": ("Drills", "Run a drill now"),
    "post-restore/": ("Post-restore tasks", "Redirect clients"),
}


def test_menu_has_overview_first_then_settings(viewer_client):
    html = viewer_client.get(BLADE).content.decode()

    assert menu_of(html) == [
        "Overview",
        "Activity log",
        "Nodes",
        "Networking",
        "Server parameters",
        "Connection strings",
        "Backup and restore",
        "Drills",
    ]
    assert '<h2 class="blade-menu-section">Settings</h2>' in html
    assert current_entry(html) == "Overview"


def test_restored_group_has_post_restore_tasks_in_its_menu(viewer_client):
    html = viewer_client.get(RESTORED_BLADE).content.decode()
    assert menu_of(html)[-1] == "Post-restore tasks"


@pytest.mark.parametrize("suffix", list(PAGES))
def test_every_blade_page_renders_server_side_with_its_entry_current(viewer_client, suffix):
    entry, content = PAGES[suffix]

    response = viewer_client.get(RESTORED_BLADE + suffix)

    html = response.content.decode()
    assert response.status_code == 200
    assert current_entry(html) == entry
    assert content in html
    assert "<h1>alpha-r</h1>" in html
    assert ' style="' not in html  # the CSP forbids inline styles


def test_icons_come_from_one_sprite_and_each_entry_has_its_own(viewer_client):
    html = viewer_client.get(BLADE).content.decode()

    assert html.count('<svg class="sprite"') == 1
    symbols = re.findall(r'<symbol id="icon-([a-z]+)"', html)
    used = re.findall(r'<use href="#icon-([a-z]+)">', html)
    assert set(used) <= set(symbols)
    blade_nav = html.split('<nav class="blade-menu"')[1].split("</nav>")[0]
    blade_icons = re.findall(r'<use href="#icon-([a-z]+)">', blade_nav)
    assert len(blade_icons) == len(set(blade_icons)) == 8
    bar = html.split('class="commandbar"')[1].split("</div>")[0]
    assert re.findall(r'<use href="#icon-([a-z]+)">', bar) == ["restore", "refresh", "delete"]


def test_activity_log_shows_this_groups_events_only(viewer_client, viewer):
    for target in (SOURCE, "someone-else"):
        ActivityEvent.objects.create(
            actor=viewer, actor_name="victor", action="set firewall rule", backend="local",
            target=target, result="succeeded", message=f"about {target}",
        )  # fmt: skip

    html = viewer_client.get(BLADE + "activity/").content.decode()

    assert "about alpha" in html and "about someone-else" not in html


def test_viewer_sees_rules_but_cannot_change_them(viewer_client, clean_rules):
    clean_rules.set_firewall_rule(SOURCE, "office", "203.0.113.0", "203.0.113.255")

    html = viewer_client.get(BLADE + "networking/").content.decode()
    response = viewer_client.post(
        BLADE + "networking/",
        {"action": "save", "name": "all", "start_ip": "0.0.0.0", "end_ip": "255.255.255.255"},
    )

    assert "office" in html and "203.0.113.255" in html
    assert "Add a firewall rule" not in html
    assert response.status_code == 403
    assert "Restore operators" in response.content.decode()
    assert [r.name for r in clean_rules.get_group(SOURCE).firewall_rules] == ["office"]


def test_operator_adds_edits_and_deletes_a_rule(operator_client, clean_rules):
    url = BLADE + "networking/"

    added = operator_client.post(
        url, {"action": "save", "name": "vpn", "start_ip": "198.51.100.7", "end_ip": "198.51.100.7"}
    )
    form = operator_client.get(url, {"edit": "vpn"}).content.decode()
    operator_client.post(
        url, {"action": "save", "name": "vpn", "start_ip": "198.51.100.0", "end_ip": "198.51.100.9"}
    )
    edited = clean_rules.get_group(SOURCE).firewall_rules
    page = operator_client.post(url, {"action": "delete", "name": "vpn"}, follow=True)

    assert added.status_code == 302
    assert "Edit rule vpn" in form and 'value="198.51.100.7"' in form
    assert [(r.name, r.start_ip, r.end_ip) for r in edited] == [
        ("vpn", "198.51.100.0", "198.51.100.9")
    ]
    assert clean_rules.get_group(SOURCE).firewall_rules == ()
    assert "Deleted firewall rule &#x27;vpn&#x27;." in page.content.decode()
    assert list(ActivityEvent.objects.filter(target=SOURCE).values_list("action", flat=True)) == [
        "delete firewall rule",
        "set firewall rule",
        "set firewall rule",
    ]


def test_a_bad_address_is_refused_with_the_reason(operator_client, clean_rules):
    response = operator_client.post(
        BLADE + "networking/",
        {"action": "save", "name": "bad", "start_ip": "10.0.0.300", "end_ip": "10.0.0.1"},
    )

    assert response.status_code == 400
    assert "Firewall rule &#x27;bad&#x27;" in response.content.decode()
    assert 'value="10.0.0.300"' in response.content.decode()
    assert clean_rules.get_group(SOURCE).firewall_rules == ()


def test_copy_from_source_on_a_restored_group(operator_client, clean_rules):
    clean_rules.set_firewall_rule(SOURCE, "office", "203.0.113.0", "203.0.113.255")

    before = operator_client.get(RESTORED_BLADE + "networking/").content.decode()
    page = operator_client.post(RESTORED_BLADE + "networking/", {"action": "copy"}, follow=True)

    assert "Copy from source (alpha)" in before
    assert "Copied 1 firewall rule from alpha." in page.content.decode()
    assert [r.name for r in clean_rules.get_group(RESTORED).firewall_rules] == ["office"]


def test_parameters_viewer_sees_operator_changes(viewer_client, operator_client, clean_rules):
    url = BLADE + "parameters/"

    refused = viewer_client.post(url, {"name": "work_mem", "value": "64MB"})
    changed = operator_client.post(url, {"name": "work_mem", "value": "64MB"}, follow=True)
    seen = viewer_client.get(url).content.decode()
    bad = operator_client.post(url, {"name": "fsync", "value": "off"})

    assert refused.status_code == 403
    assert "Set work_mem to &#x27;64MB&#x27;." in changed.content.decode()
    assert "<code>work_mem</code></td><td>coordinator</td><td>64MB</td><td>4MB</td>" in seen
    assert "Set a parameter" not in seen
    assert clean_rules.get_group(SOURCE).parameters == {"work_mem": "64MB"}
    assert bad.status_code == 400
    assert "not a parameter the portal manages" in bad.content.decode()


def test_parameters_page_says_when_all_are_defaults(operator_client, clean_rules):
    html = operator_client.get(BLADE + "parameters/").content.decode()
    assert "Every parameter has its default value." in html
    assert "Set a parameter" in html


def test_password_is_shown_only_to_operators_on_request(viewer_client, operator_client, engine):
    password = engine.get_group(SOURCE).admin_password
    url = BLADE + "connection-strings/"

    seen = viewer_client.get(url).content.decode()
    refused = viewer_client.post(url)
    operator_page = operator_client.get(url).content.decode()
    revealed = operator_client.post(url)

    for html in (seen, operator_page, refused.content.decode()):
        assert password not in html
    assert "{your_password}" in seen and "Show password" not in seen
    assert "Show password" in operator_page
    assert refused.status_code == 403
    assert revealed.status_code == 200 and revealed["Cache-Control"] == "no-store"
    assert f"password={password}" in revealed.content.decode()
    assert f"psql &quot;host=127.0.0.1 port={engine.get_group(SOURCE).coordinator.port}" in seen
    assert ActivityEvent.objects.filter(action="show password", target=SOURCE).count() == 1


def test_backup_and_restore_lists_backups_and_restores_with_progress(
    viewer_client, operator, engine
):
    RestoreOperation.objects.create(
        backend="local", source_id=SOURCE, source_name=SOURCE, target_name="alpha-run",
        choice="earliest", subscription="s", resource_group="r", location="l",
        created_by=operator, status="running", phase="Restoring",
        node_progress={"coordinator": 40, "worker-1": 60},
    )  # fmt: skip

    html = viewer_client.get(BLADE + "backup-and-restore/").content.decode()
    poll = viewer_client.get(
        BLADE + "backup-and-restore/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="restores"
    )

    assert 'id="window-earliest"' in html
    backups = html.split('id="backups-heading"')[1].split("</table>")[0]
    assert backups.count("<tr>") == 1 + sum(len(n.backups) for n in engine.get_group(SOURCE).nodes)
    assert "worker-1" in backups and " UTC" in backups
    # The group's percent, and one bar per node as on the operation page.
    assert "Restoring · 50%" in html
    assert '<progress max="100" value="40" aria-label="coordinator">' in html
    assert '<progress max="100" value="60" aria-label="worker-1">' in html
    assert poll.status_code == 200 and "alpha-run" in poll.content.decode()


def test_restores_poll_stops_when_none_runs(viewer_client):
    poll = viewer_client.get(
        BLADE + "backup-and-restore/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="restores"
    )
    assert poll.status_code == 286


def test_viewer_may_not_delete(viewer_client, engine):
    overview = viewer_client.get(BLADE).content.decode()
    response = viewer_client.post(BLADE + "delete/", {"confirm_name": SOURCE})

    assert "Delete is not available to you" in overview
    assert response.status_code == 403
    assert engine.get_group(SOURCE).status == "Ready"


def test_delete_refuses_a_wrong_name(operator_client, engine):
    form = operator_client.get(BLADE + "delete/").content.decode()
    response = operator_client.post(BLADE + "delete/", {"confirm_name": "alph"})

    assert "Type the server group name to confirm" in form
    assert response.status_code == 400
    assert "The name typed does not match. Type alpha exactly" in response.content.decode()
    assert engine.get_group(SOURCE).status == "Ready"


@pytest.mark.parametrize(
    ("source", "target", "reason"),
    [
        (SOURCE, "alpha-new", "A restore from alpha into alpha-new is running"),
        ("elsewhere", SOURCE, "A restore into alpha is running"),
    ],
)
def test_delete_refuses_while_a_restore_runs(
    operator_client, operator, engine, source, target, reason
):
    RestoreOperation.objects.create(
        backend="local", source_id=source, source_name=source, target_name=target,
        choice="earliest", subscription="s", resource_group="r", location="l",
        created_by=operator, status="running",
    )  # fmt: skip

    form = operator_client.get(BLADE + "delete/").content.decode()
    response = operator_client.post(BLADE + "delete/", {"confirm_name": SOURCE})

    assert reason in form and "confirm_name" not in form
    assert response.status_code == 409
    assert reason in response.content.decode()
    assert engine.get_group(SOURCE).status == "Ready"
    assert ActivityEvent.objects.get(action="delete").result == "refused"


def test_delete_a_restored_group(operator_client, operator, engine):
    engine.restore(SOURCE, "alpha-gone")

    response = operator_client.post(
        "/servergroups/local/alpha-gone/delete/", {"confirm_name": "alpha-gone"}
    )

    assert response.status_code == 302 and response["Location"] == "/"
    assert "alpha-gone" not in [group.name for group in engine.list_groups()]
    assert ActivityEvent.objects.get(action="delete", target="alpha-gone").result == "succeeded"
    assert Notification.objects.get(user=operator).title == "Deleted alpha-gone"
    listing = operator_client.get("/").content.decode()
    assert "Deleted server group alpha-gone." in listing


def test_delete_is_unavailable_where_the_backend_cannot(operator_client, listed_backends):
    listed_backends(2)

    overview = operator_client.get("/servergroups/listed/group-0001/").content.decode()
    response = operator_client.post(
        "/servergroups/listed/group-0001/delete/", {"confirm_name": "group-0001"}
    )

    assert "Delete is not available: Deleting server groups is not supported" in overview
    assert response.status_code == 409


def test_menu_pages_reach_every_entry_without_scripts(viewer_client):
    group_menu = viewer_client.get(RESTORED_BLADE + "menu/").content.decode()
    portal_menu = viewer_client.get("/menu/").content.decode()

    for entry, _ in PAGES.values():
        assert f"</svg>{entry}</a>" in group_menu
    for entry in ("All server groups", "Restore operations", "Activity log", "Notifications"):
        assert f"</svg>{entry}</a>" in group_menu and f"</svg>{entry}</a>" in portal_menu
    overview = viewer_client.get(BLADE).content.decode()
    assert 'id="menu-button" href="/servergroups/local/alpha/menu/"' in overview
