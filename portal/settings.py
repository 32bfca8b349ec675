"""The portal's one settings file: every knob comes from an environment variable.

Local defaults just work (SQLite and a generated secret key under ``var/``, the
localcloud backend under ``var/localcloud``). ``PORTAL_ENV=production`` turns the
defaults strict: a secret key must be given and the deploy checks must pass.
The README's configuration table lists every variable read here.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

from portal import files

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = files.private_dir(Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var")))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    return float(value) if value.strip() else default


PORTAL_ENV = os.environ.get("PORTAL_ENV", "local")
PRODUCTION = PORTAL_ENV == "production"

if PRODUCTION:
    SECRET_KEY = os.environ.get("SECRET_KEY", "")
    if len(SECRET_KEY) < 50:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "PORTAL_ENV=production needs SECRET_KEY: at least 50 random characters."
        )
else:
    SECRET_KEY = os.environ.get("SECRET_KEY") or files.secret_key_read_or_create(
        VAR_DIR / "secret_key"
    )
# The files the start-up check (portal/checks.py) requires private.
PORTAL_SECRET_KEY_FILE = None if os.environ.get("SECRET_KEY") else VAR_DIR / "secret_key"

DEBUG = env_bool("DEBUG", not PRODUCTION)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks_db",
    "axes",
    "portal",
    "restore_wizard",
    "drills",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a refused sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.chrome",
                "portal.context_processors.states",
                "restore_wizard.context_processors.states",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the task worker and the agent write at once: WAL mode and a
    # busy timeout turn "database is locked" into a short wait.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not memory, so that a task worker started by a browser test shares it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-portal.sqlite3")}
    # Created private before SQLite opens it: its -wal and -shm files take its mode.
    files.sqlite_file_create(Path(DATABASES["default"]["NAME"]))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Sign-in throttling (django-axes). The axes backend comes first: while an account or
# an address is locked it refuses before the password backend hashes anything.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(env_float("PORTAL_SIGNIN_FAILURE_LIMIT", 20))
AXES_COOLOFF_TIME = timedelta(minutes=env_float("PORTAL_SIGNIN_LOCKOUT_MINUTES", 15.0))
# Each parameter on its own: a user name locks from every address, and an address
# locks for every user name.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# A refused attempt during a lockout neither extends it nor writes a row.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "portal.signin.lockout_response"
AXES_CLIENT_IP_CALLABLE = "portal.signin.client_address"
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False
# How many proxies in front of the portal append to X-Forwarded-For (0: none, the
# address is the connection's).
PORTAL_SIGNIN_PROXY_COUNT = int(env_float("PORTAL_SIGNIN_PROXY_COUNT", 0))

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "servergroup_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = files.private_dir(VAR_DIR / "staticfiles", 0o700)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# htmx and the portal's own script are files with a nonce; no inline script or
# style anywhere, so the policy needs no 'unsafe-inline'.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True

TASKS = {
    "default": {
        "BACKEND": os.environ.get("PORTAL_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}


def backend_registry() -> dict[str, dict]:
    """PORTAL_BACKENDS: which clouds the portal shows, built from the environment."""
    registry: dict[str, dict] = {}
    enabled = env_list("PORTAL_BACKENDS", "local,azure,flexible")
    if "local" in enabled:
        registry["local"] = {
            "BACKEND": "portal.backends.local.LocalBackend",
            "OPTIONS": {
                "root": os.environ.get("LOCALCLOUD_ROOT", str(VAR_DIR / "localcloud")),
                # The labels a group carries; unset, the backend's (localcloud's) apply.
                **{
                    option: os.environ[variable]
                    for option, variable in (
                        ("subscription", "LOCALCLOUD_SUBSCRIPTION"),
                        ("resource_group", "LOCALCLOUD_RESOURCE_GROUP"),
                        ("location", "LOCALCLOUD_LOCATION"),
                    )
                    if os.environ.get(variable)
                },
                "base_port": int(os.environ.get("LOCALCLOUD_BASE_PORT", "15432")),
                "retention_days": env_float("LOCALCLOUD_RETENTION_DAYS", 7.0),
                "backup_interval_hours": env_float("LOCALCLOUD_BACKUP_HOURS", 24.0),
                "pg_bin": os.environ.get("LOCALCLOUD_PG_BIN", ""),
                # A DELETE or UPDATE of at least this many rows in one transaction is
                # marked on the restore timeline.
                "large_change_rows": int(env_float("LOCALCLOUD_LARGE_CHANGE_ROWS", 1000)),
                "preview_minutes": env_float("LOCALCLOUD_PREVIEW_MINUTES", 15.0),
            },
        }
    if "azure" in enabled and env_list("AZURE_SUBSCRIPTION_IDS"):
        registry["azure"] = {
            "BACKEND": "portal.backends.azure.AzureBackend",
            "OPTIONS": {
                "subscription_ids": env_list("AZURE_SUBSCRIPTION_IDS"),
                "resource_group": os.environ.get("AZURE_RESOURCE_GROUP", ""),
                "cache_seconds": env_float("AZURE_CACHE_SECONDS", 30.0),
                "polling_interval": env_float("AZURE_POLLING_INTERVAL", 30.0),
                "drill_db_user": os.environ.get("AZURE_DRILL_DB_USER", ""),
            },
        }
    if "flexible" in enabled and env_list("AZURE_SUBSCRIPTION_IDS"):
        # Azure Database for PostgreSQL flexible server, in the same subscriptions.
        registry["flexible"] = {
            "BACKEND": "portal.backends.azure_flexible.FlexibleBackend",
            "OPTIONS": {
                "subscription_ids": env_list("AZURE_SUBSCRIPTION_IDS"),
                "resource_group": os.environ.get("AZURE_RESOURCE_GROUP", ""),
                "cache_seconds": env_float("AZURE_CACHE_SECONDS", 30.0),
                "polling_interval": env_float("AZURE_POLLING_INTERVAL", 30.0),
                "drill_db_user": os.environ.get("AZURE_DRILL_DB_USER", ""),
            },
        }
    return registry


PORTAL_BACKENDS = backend_registry()
PORTAL_PRODUCT_NAME = os.environ.get("PORTAL_PRODUCT_NAME", "Restore portal")
PORTAL_PAGE_SIZE = int(os.environ.get("PORTAL_PAGE_SIZE", "25"))
PORTAL_POLL_SECONDS = env_float("PORTAL_POLL_SECONDS", 2.0)
# Previews of the data at T: how many rows a query shows, and how long it may run.
PORTAL_PREVIEW_ROW_LIMIT = int(env_float("PORTAL_PREVIEW_ROW_LIMIT", 100))
PORTAL_PREVIEW_TIMEOUT_SECONDS = env_float("PORTAL_PREVIEW_TIMEOUT_SECONDS", 5.0)
# How many previews one user may have open at once (the backend caps them all together).
PORTAL_PREVIEW_SLOTS_PER_USER = int(env_float("PORTAL_PREVIEW_SLOTS_PER_USER", 2))
# Restore drills: how many may run at once in the whole portal, how long a DBA's SQL
# assertion may run, and when a group is overdue: its schedule's period (a day, a week)
# plus the grace, or, without a schedule, after how many days without a passed drill.
PORTAL_DRILLS_MAX_RUNNING = int(env_float("PORTAL_DRILLS_MAX_RUNNING", 1))
PORTAL_DRILL_ASSERTION_TIMEOUT_SECONDS = env_float("PORTAL_DRILL_ASSERTION_TIMEOUT_SECONDS", 5.0)
PORTAL_DRILL_OVERDUE_DAYS = env_float("PORTAL_DRILL_OVERDUE_DAYS", 8.0)
PORTAL_DRILL_OVERDUE_GRACE_HOURS = env_float("PORTAL_DRILL_OVERDUE_GRACE_HOURS", 6.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("PORTAL_LOG_LEVEL", "INFO")},
    "loggers": {
        # The SDK logs request headers at INFO; keep credentials out of the logs.
        "azure": {"level": "WARNING"},
    },
}
