"""Pages register themselves on a group's blade: the shell names no other app's URLs."""

import dataclasses

import pytest

from portal import blade
from tests.fakes.doubles import ListBackend


@pytest.fixture
def group():
    return ListBackend("listed", count=1).groups[0]


@pytest.fixture
def restored(group):
    return dataclasses.replace(group, restored_from="group-origin")


def labels(sections):
    return [(section.title, [entry.label for entry in section.entries]) for section in sections]


def test_the_wizard_registers_its_pages_links_and_delete_guard(group, restored):
    assert labels(blade.menu(restored, "post_restore")) == [
        ("", ["Overview", "Activity log"]),
        (
            "Settings",
            [
                "Nodes",
                "Networking",
                "Server parameters",
                "Connection strings",
                "Backup and restore",
                "Drills",
                "Post-restore tasks",
            ],
        ),
    ]
    assert "Post-restore tasks" not in str(labels(blade.menu(group, "")))
    urls = blade.group_urls(group.backend, group.name)
    assert urls["restore_start"] == "/servergroups/listed/group-0000/restore/"
    assert urls["servergroup_delete"] == "/servergroups/listed/group-0000/delete/"
    # The wizard's guard, and the drills' (not while a drill of the group runs).
    assert len(blade.DELETE_GUARDS) == 2
    assert blade.URL_MODULES == ["drills.urls"]


def test_a_registered_page_takes_its_place_and_is_marked_current(group):
    page = blade.BladePage("restore_start", "Extra", "add", 15, blade.SETTINGS_SECTION)
    blade.register_page(page)
    try:
        settings = blade.menu(group, "restore_start")[1]
        entries = [(entry.label, entry.current) for entry in settings.entries]
        assert entries[:3] == [("Nodes", False), ("Extra", True), ("Networking", False)]
        assert settings.entries[1].url == "/servergroups/listed/group-0000/restore/"
    finally:
        del blade.PAGES["restore_start"]
        blade.group_urls.cache_clear()


def test_a_page_in_an_unknown_section_is_refused():
    with pytest.raises(ValueError, match="section must be one of"):
        blade.register_page(blade.BladePage("servergroup_nodes", "Nodes", "nodes", 1, "Other"))
