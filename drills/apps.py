from django.apps import AppConfig


class DrillsConfig(AppConfig):
    name = "drills"
    verbose_name = "Restore drills"

    def ready(self) -> None:
        # The portal never imports this app: the app registers its pages on the blade.
        from portal import blade

        blade.register_page(
            blade.BladePage("drill_group", "Drills", "drill", 55, blade.SETTINGS_SECTION)
        )
        blade.register_urls("drills.urls")
        blade.register_nav_link(blade.NavLink("drill_fleet", "Restore drills", "drill", "drills"))
        blade.register_delete_guard(drill_running_for)


def drill_running_for(backend_key: str, group_name: str) -> str | None:
    """Delete's guard: not while a drill of the group runs (its scratch group is the drill's)."""
    from django.db.models import Q

    from .models import Drill

    drill = (
        Drill.objects.filter(backend=backend_key, status__in=Drill.ACTIVE)
        .filter(Q(group_name=group_name) | Q(scratch_name=group_name))
        .first()
    )
    if drill is None:
        return None
    return (
        f"Restore drill {drill.pk} of {drill.group_name} is "
        f"{drill.get_status_display().lower()}; it removes its scratch group itself."
    )
