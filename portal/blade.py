"""A server group's blade: the resource menu on the left of every page of one group.

Apps register their pages here (the portal its own in ``PortalConfig.ready()``, the
restore wizard its pages in ``RestoreWizardConfig.ready()``), so the portal shell never
names another app's URLs. Every page's URL takes ``(backend, name)``.

Besides menu entries an app may register:

- links: URL names of the group's other pages (the wizard's steps) that templates reach
  through ``urls.<name>``;
- URL modules: an app's ``urls`` module, included by the portal's URLconf under the
  site root (``register_urls``), so the portal never imports the app;
- portal menu links: a page of the app's own in the portal's left menu (``NavLink``);
- delete guards: ``guard(backend_key, group_name) -> str | None``, the reason a group may
  not be deleted now (the wizard refuses a group with a restore running into or from it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from django.urls import reverse

from .backends.base import ServerGroup

OVERVIEW_SECTION = ""
SETTINGS_SECTION = "Settings"
SECTIONS = (OVERVIEW_SECTION, SETTINGS_SECTION)


def always(group: ServerGroup) -> bool:
    return True


@dataclass(frozen=True)
class BladePage:
    url_name: str
    label: str
    icon: str  # a symbol of templates/portal/icons.html, without "icon-"
    order: int  # within its section
    section: str = OVERVIEW_SECTION
    shown: Callable[[ServerGroup], bool] = always


@dataclass(frozen=True)
class MenuEntry:
    label: str
    icon: str
    url: str
    current: bool


@dataclass(frozen=True)
class MenuSection:
    title: str
    entries: tuple[MenuEntry, ...]


PAGES: dict[str, BladePage] = {}
LINKS: set[str] = set()
DELETE_GUARDS: list[Callable[[str, str], str | None]] = []
URL_MODULES: list[str] = []


@dataclass(frozen=True)
class NavLink:
    url_name: str
    label: str
    icon: str
    nav: str  # the page's ``nav`` context value, marking the link as current


NAV_LINKS: list[NavLink] = []


def register_nav_link(link: NavLink) -> None:
    """A link in the portal's left menu, after "All server groups", in the order the
    apps register them (INSTALLED_APPS order)."""
    if link not in NAV_LINKS:
        NAV_LINKS.append(link)


def register_page(page: BladePage) -> None:
    if page.section not in SECTIONS:
        raise ValueError(f"A blade page's section must be one of {SECTIONS}, not {page.section!r}.")
    PAGES[page.url_name] = page
    group_urls.cache_clear()


def register_links(*url_names: str) -> None:
    LINKS.update(url_names)
    group_urls.cache_clear()


def register_urls(module: str) -> None:
    """Include the URL module ``module`` (a dotted path) at the site root; call from
    ``AppConfig.ready()``, which runs before the URLconf is first read."""
    if module not in URL_MODULES:
        URL_MODULES.append(module)


def register_delete_guard(guard: Callable[[str, str], str | None]) -> None:
    if guard not in DELETE_GUARDS:
        DELETE_GUARDS.append(guard)


@lru_cache(maxsize=4096)
def group_urls(backend_key: str, name: str) -> dict[str, str]:
    """The links of one server group's pages, reversed once per process, not per link."""
    return {
        url_name: reverse(url_name, args=[backend_key, name])
        for url_name in sorted(set(PAGES) | LINKS)
    }


def menu(group: ServerGroup, current: str) -> list[MenuSection]:
    """The blade's menu for ``group``, with ``current`` (a URL name) marked."""
    urls = group_urls(group.backend, group.name)
    sections = []
    for title in SECTIONS:
        pages = sorted(
            (page for page in PAGES.values() if page.section == title and page.shown(group)),
            key=lambda page: page.order,
        )
        entries = tuple(
            MenuEntry(page.label, page.icon, urls[page.url_name], page.url_name == current)
            for page in pages
        )
        if entries:
            sections.append(MenuSection(title, entries))
    return sections


def delete_refusal(backend_key: str, name: str) -> str | None:
    """The first registered reason not to delete this group now, or None."""
    for guard in DELETE_GUARDS:
        reason = guard(backend_key, name)
        if reason:
            return reason
    return None
