"""Every URL pattern: anonymous visitors go to sign-in; signed-in users never get a 500."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

SAMPLE_ARGS = {
    "backend": "listed",
    "name": "group-0001",
    "pk": "1",
    "what": "firewall",
    "task": "endpoint",
    "preview_id": "p-0001",
}
PUBLIC = {"login"}


def patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield entry.name, prefix + str(entry.pattern)


def sample_path(route: str) -> str:
    path = route
    for key, value in SAMPLE_ARGS.items():
        for converter in ("str", "int", "path", "slug"):
            path = path.replace(f"<{converter}:{key}>", value)
    assert "<" not in path, f"add a sample value for {route}"
    return "/" + path


ALL = sorted(set(patterns()))


def test_the_portal_has_the_pages_the_issue_asks_for():
    names = {name for name, _ in ALL}
    assert {"servergroup_list", "servergroup_overview", "activity_log", "login"} <= names
    assert {"restore_start", "restore_details", "operation_detail", "post_restore"} <= names


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "route"), ALL)
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_requests_are_sent_to_sign_in(client, name, route, method):
    if name in PUBLIC:
        return
    response = getattr(client, method)(sample_path(route))
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/?next=")


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "route"), ALL)
@pytest.mark.parametrize("method", ["get", "post"])
def test_no_page_answers_500(operator_client, listed_backends, name, route, method):
    listed_backends(3)
    response = getattr(operator_client, method)(sample_path(route))
    assert response.status_code < 500, response.content[:500]
