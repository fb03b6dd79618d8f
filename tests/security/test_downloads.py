"""Who may download ZIPs: any logged-in teammate (results are the team's); nobody
logged out; no POST without its CSRF token; no id that is not a result id."""

from __future__ import annotations

import pytest
import responses
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from dashboard.models import InputImage, Job, Run, RunCell
from tests.support.corpus import flat_photo

pytestmark = pytest.mark.django_db
ITEM = "0123456789abcdef01234567"


@pytest.fixture
def no_upstream():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def graces_run(django_user_model):
    grace = django_user_model.objects.create_user(username="grace")
    image = InputImage.objects.create(
        owner=grace, file="inputs/a.png", thumbnail="thumbnails/a.webp", original_name="a.png",
        content_type="image/png", size=1, width=1, height=1,
    )  # fmt: skip
    run = Run.objects.create(
        designer=grace, designer_name="grace", tool="fashion_swap", row_slot="clothes", row_label="Garment"
    )
    job = Job.objects.create(
        history_item_id=ITEM, designer=grace, tool="fashion_swap", status=Job.Status.COMPLETE, run=run
    )
    RunCell.objects.create(run=run, row=0, column=0, row_image=image, job=job, state=RunCell.State.SENT)
    return run


def test_logged_out_both_downloads_lead_to_the_login_page_without_an_upstream_call(graces_run, no_upstream):
    visitor = Client()
    run_url = reverse("run_download", args=[graces_run.pk]) + "?liked=1"

    response = visitor.get(run_url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/runs/{graces_run.pk}/download%3Fliked%3D1"
    response = visitor.post(reverse("history_download"), {"ids": [ITEM]})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert len(no_upstream.calls) == 0


def test_a_selection_posted_without_its_csrf_token_is_refused(django_user_model, no_upstream):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(django_user_model.objects.create_user(username="ada"))

    response = browser.post(reverse("history_download"), {"ids": [ITEM]})

    assert response.status_code == 403
    assert len(no_upstream.calls) == 0


def test_a_teammate_may_download_anothers_run(django_user_model, client, graces_run, no_upstream):
    client.force_login(django_user_model.objects.create_user(username="ada"))
    base = "http://genapi.test"
    no_upstream.get(f"{base}/generation/tools", json=[])
    no_upstream.get(
        f"{base}/user/generation-history/{ITEM}",
        json={"id": ITEM, "status": "complete", "stock_url": f"/image/generation_result/{ITEM}.png"},
    )
    no_upstream.get(f"{base}/image/generation_result/{ITEM}.png", body=flat_photo(), content_type="image/png")

    response = client.get(reverse("run_download", args=[graces_run.pk]))

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert b"".join(response.streaming_content).startswith(b"PK")


def test_a_run_that_does_not_exist_is_a_404(django_user_model, client, no_upstream):
    client.force_login(django_user_model.objects.create_user(username="ada"))
    assert client.get("/runs/987654/download").status_code == 404
    assert client.get("/runs/-1/download").status_code == 404
    assert client.get("/runs/1%2F..%2F/download").status_code == 404
    assert len(no_upstream.calls) == 0


@pytest.mark.parametrize("hostile", ["../../generation/tools", "x%2F..", "a b", "\x00", "<script>", "a" * 129])
def test_a_hostile_id_in_a_selection_never_reaches_the_upstream(django_user_model, client, no_upstream, hostile):
    client.force_login(django_user_model.objects.create_user(username="ada"))

    response = client.post(reverse("history_download"), {"ids": [ITEM, hostile]})

    assert response.status_code == 303 and response["Location"] == reverse("history")
    assert "The selection names something that is not a result" in str(*get_messages(response.wsgi_request))
    assert len(no_upstream.calls) == 0
