"""Compare with now: what the ready preview panel lists. The preview's tables at T beside
the same tables in the running source (rows now, dropped or created since T); when the
backend cannot compare (the group is stopped, or the cloud has no such thing), the
tables at T alone, with the reason."""

from __future__ import annotations

from portal.backends import BackendError
from portal.backends.base import Backend


def preview_contents(source: Backend, preview_id: str) -> dict:
    """``tables`` (at T), and ``comparison`` or ``comparison_error``, for the panel.
    A BackendError reading the preview's own tables is the caller's to show."""
    try:
        comparison = source.preview_compare(preview_id)
    except BackendError as error:
        return {
            "tables": source.preview_tables(preview_id),
            "comparison_error": f"Compare with now is not available: {error.message}",
        }
    return {
        "tables": [row.at_point for row in comparison if row.at_point is not None],
        "comparison": comparison,
    }
