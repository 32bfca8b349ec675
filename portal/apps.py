from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Restore portal"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the start-up checks)
        from .blade import SETTINGS_SECTION, BladePage, register_links, register_page

        # Overview first, as in Azure's resource menu; the wizard adds its own pages.
        for page in (
            BladePage("servergroup_overview", "Overview", "overview", 0),
            BladePage("servergroup_activity", "Activity log", "activity", 10),
            BladePage("servergroup_nodes", "Nodes", "nodes", 10, SETTINGS_SECTION),
            BladePage("servergroup_networking", "Networking", "networking", 20, SETTINGS_SECTION),
            BladePage(
                "servergroup_parameters", "Server parameters", "parameters", 30, SETTINGS_SECTION
            ),
            BladePage(
                "servergroup_connection", "Connection strings", "connection", 40, SETTINGS_SECTION
            ),
        ):
            register_page(page)
        register_links("servergroup_delete", "servergroup_menu")
