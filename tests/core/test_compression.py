"""Compression over a real socket: pages go gzipped, images go as they are."""

import gzip

import pytest
import requests
from django.conf import settings
from django.urls import reverse

from dashboard.models import Job
from tests.support.forms import job_form
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}


@pytest.fixture
def browser_session(live_server, on_simulator, designer, client):
    """A requests session logged in as a designer, talking to the live server."""
    session = requests.Session()
    session.cookies.set(settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value)
    return session


@pytest.fixture
def finished_job(client, browser_session, syncing) -> Job:
    """A job sent from the Generate page, followed to its end by the sync process."""
    client.post(
        reverse("home"),
        job_form(),
    )
    job = Job.objects.get()

    def finished() -> bool:
        job.refresh_from_db()
        return not job.is_pending

    wait_until(finished, timeout=15, interval=0.3, message="the job never finished")
    assert job.status == "complete"
    return job


def get_raw(session: requests.Session, url: str, headers: dict) -> tuple[requests.Response, bytes]:
    """The response and its body exactly as it came over the wire (not decoded)."""
    response = session.get(url, headers=headers, stream=True, timeout=10)
    return response, response.raw.read(decode_content=False)


class TestCompression:
    def test_a_page_comes_gzipped_smaller_and_whole(self, live_server, browser_session, finished_job):
        url = live_server.url + reverse("home")
        plain, plain_body = get_raw(browser_session, url, IDENTITY)
        packed, packed_body = get_raw(browser_session, url, GZIP)
        assert plain.status_code == packed.status_code == 200
        assert "Content-Encoding" not in plain.headers
        assert packed.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert len(packed_body) < len(plain_body) / 3
        page = gzip.decompress(packed_body).decode()
        assert page.lstrip().lower().startswith("<!doctype html>") and page.rstrip().endswith("</html>")
        assert f'id="job-{finished_job.history_item_id}"' in page
        # The same page but for the per-response CSRF mask and CSP nonce.
        assert abs(len(page) - len(plain_body)) < 200

    def test_images_come_as_they_are(self, live_server, browser_session, finished_job):
        urls = [
            reverse("result_image", args=[finished_job.history_item_id, "preview"]),
            reverse("result_image", args=[finished_job.history_item_id, "stock"]),
            reverse("input_image", args=[finished_job.inputs.get(slot="person").image_id, "thumbnail"]),
            reverse("result_image", args=["unknown0000000000000000", "preview"]),  # the placeholder
        ]
        for path in urls:
            plain, plain_body = get_raw(browser_session, live_server.url + path, IDENTITY)
            packed, packed_body = get_raw(browser_session, live_server.url + path, GZIP)
            assert packed.headers["Content-Type"].startswith("image/"), path
            assert "Content-Encoding" not in packed.headers, path
            assert packed_body == plain_body, path
