from django.apps import AppConfig


class RestoreWizardConfig(AppConfig):
    name = "restore_wizard"
    verbose_name = "Restore wizard"
