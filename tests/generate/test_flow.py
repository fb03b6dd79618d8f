"""The generate flow against the real simulator over HTTP: no stubs anywhere."""

import re

import pytest
from django.urls import reverse

from dashboard.core.tokens import new as new_token
from dashboard.models import Job
from tests.support.corpus import flat_photo, person_photo
from tests.support.forms import job_form
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.postgres_redis]
HTMX = {"HX-Request": "true"}


@pytest.fixture
def designer(designer, on_simulator):
    """Ada, logged into `client`, with Django on the real simulator."""
    return designer


def send(client, person: bytes):
    return client.post(
        reverse("home"),
        job_form(person=person),
        headers=HTMX,
    )


def tick_until_finished(client, job: Job, timeout: float = 15.0) -> str:
    """Poll the tray as the page does until the job is no longer pending; the last tray."""

    def tick() -> str | None:
        job.refresh_from_db()  # first: a tray asked before the sync recorded the end still shows it running
        body = client.get(reverse("tray"), headers=HTMX).content.decode()
        return body if not job.is_pending else None

    return wait_until(tick, timeout=timeout, interval=0.3, message=f"job {job.history_item_id} still pending")


def tray_poll_url(body: str) -> str:
    """The address the tray in this page or fragment polls, as htmx would read it."""
    match = re.search(r'<aside class="tray" id="job-tray"[^>]*?hx-get="([^"]+)"', body)
    assert match, "the tray does not poll"
    return match.group(1).replace("&amp;", "&")


class TestTrayPollsThatChangeNothing:
    def test_while_a_job_runs_each_poll_is_an_empty_204(self, client, designer, simulator):
        simulator.configure(job_seconds=60)
        send(client, person_photo(fmt="PNG"))
        url = tray_poll_url(client.get(reverse("home")).content.decode())
        for _ in range(2):
            response = client.get(url, headers=HTMX)
            assert response.status_code == 204
            assert response.content == b""

    def test_a_finished_job_makes_the_next_poll_bring_the_tray_and_polling_stops(self, client, designer, syncing):
        url = tray_poll_url(send(client, person_photo(fmt="PNG")).content.decode())
        job = Job.objects.get()
        response = wait_until(
            lambda: (answer := client.get(url, headers=HTMX)).status_code != 204 and answer,
            timeout=15,
            interval=0.3,
            message="the tray never brought the finished job",
        )
        assert response.status_code == 200
        body = response.content.decode()
        assert f'<img src="/results/{job.history_item_id}/preview"' in body
        assert "hx-trigger" not in body  # nothing runs: the new tray does not poll


class TestGenerateAgainstTheSimulator:
    def test_a_job_runs_from_pending_to_a_real_result_image(self, client, designer, syncing):
        body = send(client, person_photo(fmt="PNG")).content.decode()
        job = Job.objects.get()
        assert "Running ·" in body

        body = tick_until_finished(client, job)
        assert job.status == "complete"
        assert f"/results/{job.history_item_id}/preview" in body

        preview = client.get(reverse("result_image", args=[job.history_item_id, "preview"]))
        assert preview.status_code == 200
        assert preview["Content-Type"] == "image/webp"
        assert b"".join(preview.streaming_content if preview.streaming else [preview.content])[8:12] == b"WEBP"
        stock = client.get(reverse("result_image", args=[job.history_item_id, "stock"]) + "?download=1")
        assert stock["Content-Type"] == "image/png" and stock.content.startswith(b"\x89PNG")
        assert stock["Content-Disposition"].startswith('attachment; filename="fashion_swap-')

    def test_a_flat_colour_model_photo_ends_in_an_error_card_with_the_upstreams_message(
        self, client, designer, syncing
    ):
        send(client, flat_photo())
        job = Job.objects.get()
        body = tick_until_finished(client, job)
        assert job.status == "error"
        assert "No person was found in the model photo" in body
        assert "Try again" in body

    def test_inputs_are_stored_and_served_only_to_logged_in_users(self, client, designer):
        send(client, person_photo(fmt="PNG"))
        inputs = {entry.slot: entry.image for entry in Job.objects.get().inputs.all()}
        assert set(inputs) == {"clothes", "person"}
        person = inputs["person"]
        assert (person.width, person.height, person.content_type) == (480, 640, "image/png")
        thumbnail = client.get(reverse("input_image", args=[person.pk, "thumbnail"]))
        assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/webp"
        client.logout()
        assert client.get(reverse("input_image", args=[person.pk, "thumbnail"])).status_code == 302

    def test_try_again_sends_the_same_inputs_as_a_new_job(self, client, designer, simulator, syncing):
        send(client, flat_photo())
        failed = Job.objects.get()
        tick_until_finished(client, failed)
        simulator.clear_requests()
        body = client.post(
            reverse("rerun", args=[failed.history_item_id]), {"submission": new_token()}, headers=HTMX
        ).content.decode()
        again = Job.objects.exclude(pk=failed.pk).get()
        assert again.history_item_id != failed.history_item_id
        assert [(e.slot, e.image_id) for e in again.inputs.all()] == [(e.slot, e.image_id) for e in failed.inputs.all()]
        posts = [r for r in simulator.requests() if r["method"] == "POST"]
        assert len(posts) == 1
        assert f"job-{again.history_item_id}" in body and "Running ·" in body
