import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()

# gunicorn runs no system checks: refuse to serve with the portal's secrets readable.
from portal.checks import private_files_require  # noqa: E402

private_files_require()
