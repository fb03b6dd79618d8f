"""A form sent twice at the HTTP level (a double click, a resent request, a replay) makes
one billed job, not two: each rendered form carries a one-time token.

Against the real simulator, counting the job creations it received in its access log.
"""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse
from django.utils import timezone

from dashboard.models import InputImage, Job, Submission
from tests.support.corpus import garment_photo, person_photo

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.postgres_redis]
HTMX = {"HX-Request": "true"}
ALREADY = "already sent"


@pytest.fixture
def designer(designer, on_simulator):
    """Ada, logged into `client`, with Django on the real simulator."""
    return designer


def job_creations(simulator) -> int:
    return sum(1 for entry in simulator.requests() if entry["method"] == "POST")


def token_in(html: str, action: str | None = None) -> str:
    """The one-time token of the page's form (the one posting to `action`, if given)."""
    if action is not None:
        html = html[html.index(f'action="{action}"') :]
    found = re.search(r'name="submission" value="([^"]*)"', html)
    return found.group(1) if found else ""


def generate_body(token: str) -> bytes:
    """One multipart body, exactly as a browser would send it, to be sent more than once."""
    return encode_multipart(
        BOUNDARY,
        {
            "tool": "fashion_swap",
            "submission": token,
            "clothes": SimpleUploadedFile("dress.png", garment_photo(), "image/png"),
            "person": SimpleUploadedFile("model.png", person_photo(fmt="PNG"), "image/png"),
        },
    )


def post_body(client, body: bytes, **headers):
    return client.generic("POST", reverse("home"), body, content_type=MULTIPART_CONTENT, headers=headers)


class TestTheGenerateFormIsSentOnce:
    @pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "page"])
    def test_the_same_post_twice_makes_one_job_and_says_it_was_already_sent(self, client, designer, simulator, htmx):
        body = generate_body(token_in(client.get(reverse("home")).content.decode()))
        simulator.clear_requests()
        headers = HTMX if htmx else {}

        post_body(client, body, **headers)
        photos = InputImage.objects.count()
        again = post_body(client, body, **headers)
        page = (again.content if htmx else client.get(again["Location"]).content).decode()

        assert job_creations(simulator) == 1
        assert Job.objects.count() == 1
        assert ALREADY in page
        assert f"job-{Job.objects.get().history_item_id}" in page  # the job the first one made
        assert InputImage.objects.count() == photos  # the replay's photos are not kept again

    def test_after_an_upstream_failure_the_same_form_may_be_sent_again(self, client, designer, simulator):
        body = generate_body(token_in(client.get(reverse("home")).content.decode()))
        simulator.configure(error_rate=1.0)
        failed = post_body(client, body, **HTMX).content.decode()
        assert ALREADY not in failed and not Job.objects.exists()

        simulator.configure(error_rate=0.0)
        simulator.clear_requests()
        sent = post_body(client, body, **HTMX).content.decode()
        assert job_creations(simulator) == 1 and Job.objects.count() == 1
        assert ALREADY not in sent and "Job sent" in sent

    def test_each_rendered_form_has_a_new_token_so_sending_again_on_purpose_works(self, client, designer, simulator):
        first = token_in(client.get(reverse("home")).content.decode())
        after = post_body(client, generate_body(first), **HTMX).content.decode()
        second = token_in(after, reverse("home"))
        assert second and second != first
        post_body(client, generate_body(second), **HTMX)
        assert Job.objects.count() == 2

    def test_a_form_without_a_token_is_not_sent_and_keeps_its_photos(self, client, designer, simulator):
        simulator.clear_requests()
        page = post_body(client, generate_body(""), **HTMX).content.decode()
        assert "This form is out of date" in page
        assert job_creations(simulator) == 0
        assert re.search(r'name="person__kept" value="\d+"', page) and re.search(
            r'name="clothes__kept" value="\d+"', page
        )
        assert token_in(page)  # a fresh token: sending it again now works


class TestRunAgainIsSentOnce:
    def test_the_same_run_again_post_twice_makes_one_job(self, client, designer, simulator):
        post_body(client, generate_body(token_in(client.get(reverse("home")).content.decode())), **HTMX)
        job = Job.objects.get()
        # The lightbox's Run again (the gallery's view, which shows the new job in the lightbox).
        rerun_url = reverse("history_rerun", args=[job.history_item_id]) + "?"
        lightbox = client.get(reverse("history_item", args=[job.history_item_id])).content.decode()
        data = {"submission": token_in(lightbox, rerun_url)}
        simulator.clear_requests()

        client.post(rerun_url, data, headers=HTMX)
        again = client.post(rerun_url, data, headers=HTMX).content.decode()
        assert job_creations(simulator) == 1
        assert Job.objects.count() == 2
        assert ALREADY in again


class TestTokensAreForgottenAfterADay:
    def test_prune_drafts_forgets_tokens_of_forms_sent_more_than_a_day_ago(self, client, designer, simulator):
        old, recent = (token_in(client.get(reverse("home")).content.decode()) for _ in range(2))
        post_body(client, generate_body(old), **HTMX)
        post_body(client, generate_body(recent), **HTMX)
        Submission.objects.filter(token=old).update(created_at=timezone.now() - timedelta(days=1, minutes=1))
        out = StringIO()
        call_command("prune_drafts", stdout=out)
        assert "Forgot 1 one-time form token" in out.getvalue()
        assert list(Submission.objects.values_list("token", flat=True)) == [recent]
        # The recent form is still refused a second time.
        simulator.clear_requests()
        assert ALREADY in post_body(client, generate_body(recent), **HTMX).content.decode()
        assert job_creations(simulator) == 0
