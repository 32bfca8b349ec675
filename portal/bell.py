"""What the bell's panel shows above the notifications: sections other apps register
(the restore wizard its running restores), so the portal never imports them.

A section is ``provider(request) -> str``: HTML rendered by the app's own template,
or "" when it has nothing to show this user now.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

SECTIONS: list[Callable[[HttpRequest], str]] = []


def register_section(provider: Callable[[HttpRequest], str]) -> None:
    if provider not in SECTIONS:
        SECTIONS.append(provider)


def sections(request: HttpRequest) -> list[SafeString]:
    # Each provider renders through Django's templates, which escape on their own.
    return [mark_safe(html) for provider in SECTIONS if (html := provider(request))]  # noqa: S308
