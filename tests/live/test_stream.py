"""The event stream over HTTP, served as in a deployment (the ASGI application under
uvicorn), with the sync process recording what the real simulator does."""

import json
import queue
import threading
import time

import pytest
import requests
from django.conf import settings as django_settings

from dashboard.models import Job
from tests.support.forms import job_form
from tests.support.sync import sync_running

pytestmark = pytest.mark.integration


def read_events(response: requests.Response, into: queue.Queue) -> None:
    """Each event of an open stream, as (name, data), and ("end", None) when it ends."""
    name = None
    try:
        for line in response.iter_lines(decode_unicode=True):
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: ") and name:
                into.put((name, json.loads(line.removeprefix("data: "))))
                name = None
            elif line.startswith(":"):
                into.put(("heartbeat", None))
    except (requests.RequestException, OSError, AttributeError):
        pass  # the test closed it (urllib3 then reads from a socket that is gone)
    into.put(("end", None))


def open_stream(base_url: str, client) -> tuple[requests.Response, queue.Queue]:
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    response = requests.get(
        f"{base_url}/events/", cookies={django_settings.SESSION_COOKIE_NAME: cookie}, stream=True, timeout=30
    )
    got: queue.Queue = queue.Queue()
    threading.Thread(target=read_events, args=(response, got), daemon=True).start()
    return response, got


def test_the_stream_is_an_uncompressed_event_stream_with_a_retry_hint_and_heartbeats(asgi_app, designer, client):
    response, got = open_stream(asgi_app, client)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["X-Accel-Buffering"] == "no"
    assert "Content-Encoding" not in response.headers
    assert got.get(timeout=5) == ("heartbeat", None)  # after half a second of quiet (the test's setting)
    response.close()


def test_a_logged_out_browser_gets_no_stream(asgi_app):
    response = requests.get(f"{asgi_app}/events/", allow_redirects=False, timeout=10)
    assert response.status_code == 302


def test_without_redis_the_stream_is_refused_and_pages_poll(asgi_app, designer, client, pushing):
    pushing.stop()
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    response = requests.get(f"{asgi_app}/events/", cookies={django_settings.SESSION_COOKIE_NAME: cookie}, timeout=10)
    assert response.status_code == 204  # not a stream: the browser's EventSource gives up, the polls go on


def test_the_end_of_a_job_reaches_an_open_stream_when_the_sync_records_it(
    asgi_app, designer, client, on_simulator, settings
):
    on_simulator.configure(job_seconds=2)
    response, got = open_stream(asgi_app, client)
    assert response.status_code == 200
    client.post("/", job_form(), HTTP_HX_REQUEST="true")
    job = Job.objects.get()
    with sync_running(settings):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            name, data = got.get(timeout=deadline - time.monotonic())
            if name == "job-changed" and job.history_item_id in data["ids"]:
                job.refresh_from_db()
                if not job.is_pending:
                    break
        else:
            pytest.fail("no job-changed event came after the job ended")
    assert job.status == Job.Status.COMPLETE
    response.close()
