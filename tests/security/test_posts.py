"""Every POST needs a CSRF token, and every restore POST needs a Restore operator."""

import pytest
from django.test import Client

from restore_wizard.models import RestoreOperation
from tests.portal.test_every_url import ALL, sample_path
from tests.wizard.conftest import RESTORE_URL, build_arm, details_form, use_azure

pytestmark = pytest.mark.django_db

RESTORE_POSTS = [
    RESTORE_URL,
    "/servergroups/azure/orders/post-restore/copy-firewall/",
    "/servergroups/azure/orders/post-restore/copy-parameters/",
    "/servergroups/azure/orders/post-restore/mark-endpoint/",
]


@pytest.mark.parametrize(("name", "route"), ALL)
def test_every_post_without_a_csrf_token_is_refused(operator, listed_backends, name, route):
    listed_backends(2)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)

    response = strict.post(sample_path(route), {"target_name": "x-copy"})

    assert response.status_code == 403


@pytest.mark.parametrize("url", RESTORE_POSTS)
def test_restore_posts_from_a_viewer_are_forbidden_and_start_nothing(
    settings, operator_client, viewer, url, django_capture_on_commit_callbacks
):
    arm = build_arm()
    use_azure(settings, arm)
    form = {**details_form(operator_client), "target_name": "orders-viewer"}
    viewer_client = Client()
    viewer_client.force_login(viewer)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = viewer_client.post(url, form, headers={"HX-Request": "true"})

    assert response.status_code == 403
    assert callbacks == []
    assert not RestoreOperation.objects.exists()
    assert not arm.requests_to("PUT", r".*")
