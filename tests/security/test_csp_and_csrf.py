"""The CSP needs no inline script or style, and every post carries a CSRF token."""

import pytest

pytestmark = pytest.mark.django_db


def test_csp_needs_no_unsafe_inline(operator_client):
    response = operator_client.get("/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy


def test_pages_have_no_inline_script_or_style(operator_client, listed_backends):
    listed_backends(2)
    for url in ["/", "/servergroups/listed/group-0001/", "/activity/", "/signin/"]:
        html = operator_client.get(url).content.decode()
        assert " style=" not in html
        assert "<style" not in html
        for chunk in html.split("<script")[1:]:
            assert 'src="' in chunk.split(">")[0], f"inline script on {url}"


def test_htmx_requests_carry_the_csrf_token(operator_client):
    html = operator_client.get("/").content.decode()
    assert 'hx-headers=\'{"X-CSRFToken":' in html


def test_posts_without_csrf_are_refused(operator):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    response = strict.post("/notifications/read/")
    assert response.status_code == 403
