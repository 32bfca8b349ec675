from django.apps import AppConfig


class RestoreWizardConfig(AppConfig):
    name = "restore_wizard"
    verbose_name = "Restore wizard"

    def ready(self) -> None:
        # The portal cannot import this app: the app hands over what the portal needs.
        from portal import bell, blade
        from portal import selectors as portal_selectors

        from . import selectors
        from .views import operations

        # A group's lineage from the restores recorded here, whatever its cloud reports.
        portal_selectors.lineage_reader_add(selectors.recorded_lineage)

        # The wizard's pages on every group's blade, its step URLs, and Delete's guard.
        blade.register_page(
            blade.BladePage(
                "servergroup_backups", "Backup and restore", "backup", 50, blade.SETTINGS_SECTION
            )
        )
        blade.register_page(
            blade.BladePage(
                "post_restore",
                "Post-restore tasks",
                "tasks",
                60,
                blade.SETTINGS_SECTION,
                shown=lambda group: bool(group.restored_from),
            )
        )
        blade.register_links(
            "restore_start",
            "restore_details",
            "restore_check_name",
            "restore_point",
            "restore_timeline",
            "restore_preview_start",
            "restore_estimate",
        )
        # "Restore operations" in the portal's menu, before other apps' links.
        blade.register_nav_link(
            blade.NavLink("operation_list", "Restore operations", "operations", "operations")
        )
        blade.register_delete_guard(selectors.restore_running_for)
        # Running restores, with the operation page's bars, in the bell's panel.
        bell.register_section(operations.bell_restores)
