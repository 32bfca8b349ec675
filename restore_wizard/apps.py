from django.apps import AppConfig


class RestoreWizardConfig(AppConfig):
    name = "restore_wizard"
    verbose_name = "Restore wizard"

    def ready(self) -> None:
        # The portal shows a group's lineage from the restores recorded here, whatever
        # its cloud reports; it cannot import this app, so the app hands its reader over.
        from portal import selectors as portal_selectors

        from . import selectors

        portal_selectors.lineage_reader_add(selectors.recorded_lineage)
