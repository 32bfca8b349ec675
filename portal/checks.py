"""Start-up checks: the portal refuses to run with its secrets open to other local users.

Run by ``manage.py check``, before every management command that checks (runserver,
migrate, db_worker, ...), and by ``portal/wsgi.py`` before gunicorn serves a request.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .files import private_files_problems


def portal_sqlite_path() -> Path | None:
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3":
        return None
    return Path(database["NAME"])


@checks.register(checks.Tags.security)
def private_files_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The portal's var/ folder, database and secret key are private to their owner."""
    problems = private_files_problems(
        var_dir=Path(settings.VAR_DIR),
        secret_key=settings.PORTAL_SECRET_KEY_FILE,
        sqlite=portal_sqlite_path(),
    )
    return [
        checks.Error(
            problem,
            hint=(
                "The portal's files hold session keys, password hashes and the key "
                "that signs sessions."
            ),
            id="portal.E001",
        )
        for problem in problems
    ]


def private_files_require() -> None:
    """Raise when a check above fails: for servers that do not run Django's checks."""
    errors = private_files_check()
    if errors:
        raise ImproperlyConfigured(
            "The portal's files are open to other users:\n"
            + "\n".join(f"  {error.msg}" for error in errors)
        )
