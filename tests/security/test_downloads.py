"""Who may download ZIPs: any logged-in teammate (results are the team's); nobody
logged out; no POST without its CSRF token; no id that is not a result id."""

from __future__ import annotations

import pytest
import responses
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from dashboard.models import Job, RunCell
from tests.factories import InputImageFactory, JobFactory, RunCellFactory, RunFactory
from tests.support.corpus import flat_photo
from tests.support.index import indexed

pytestmark = pytest.mark.django_db
ITEM = "0123456789abcdef01234567"


@pytest.fixture
def no_upstream():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def graces_run(teammate):
    image = InputImageFactory(owner=teammate, original_name="a.png")
    run = RunFactory(designer=teammate)
    job = JobFactory(history_item_id=ITEM, designer=teammate, status=Job.Status.COMPLETE, run=run)
    RunCellFactory(run=run, row=0, column=0, row_image=image, job=job, state=RunCell.State.SENT)
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


def test_a_selection_posted_without_its_csrf_token_is_refused(ada, no_upstream):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(ada)

    response = browser.post(reverse("history_download"), {"ids": [ITEM]})

    assert response.status_code == 403
    assert len(no_upstream.calls) == 0


def test_a_teammate_may_download_anothers_run(designer, client, graces_run, no_upstream):
    base = "http://genapi.test"
    indexed({"id": ITEM, "status": "complete", "stock_url": f"/image/generation_result/{ITEM}.png"})  # the sync saw it
    no_upstream.get(f"{base}/image/generation_result/{ITEM}.png", body=flat_photo(), content_type="image/png")

    response = client.get(reverse("run_download", args=[graces_run.pk]))

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert b"".join(response.streaming_content).startswith(b"PK")
    assert [call.request.url for call in no_upstream.calls] == [f"{base}/image/generation_result/{ITEM}.png"]


def test_a_run_that_does_not_exist_is_a_404(designer, client, no_upstream):
    assert client.get("/runs/987654/download").status_code == 404
    assert client.get("/runs/-1/download").status_code == 404
    assert client.get("/runs/1%2F..%2F/download").status_code == 404
    assert len(no_upstream.calls) == 0


@pytest.mark.parametrize("hostile", ["../../generation/tools", "x%2F..", "a b", "\x00", "<script>", "a" * 129])
def test_a_hostile_id_in_a_selection_never_reaches_the_upstream(designer, client, no_upstream, hostile):

    response = client.post(reverse("history_download"), {"ids": [ITEM, hostile]})

    assert response.status_code == 303 and response["Location"] == reverse("history")
    assert "The selection names something that is not a result" in str(*get_messages(response.wsgi_request))
    assert len(no_upstream.calls) == 0
