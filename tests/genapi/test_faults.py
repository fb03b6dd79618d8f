"""The dashboard against a misbehaving upstream: the real simulator, faults switched on.

For each fault a designer walks the pages they use. Every page must answer (no 500)
without waiting anything out (no sleep: a long Retry-After is never slept through; how
long pages take under each fault is printed by bench/give_up_times.py), keep the photos
just uploaded, and never send a job twice. Pages that read the index (the tray, the
gallery, the lightbox, polls) keep showing what it holds and ask the upstream nothing;
those that need the upstream (sending, rating, deleting, a cold catalogue) say in words
what is wrong, and so do the index's pages once the sync process has met the fault for
longer than SYNC_STALE_SECONDS. Once the fault is gone the same pages work again with
the sync's next ticks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from dashboard.core.tokens import new as new_token
from dashboard.genapi import cached
from dashboard.index import status as index_status
from dashboard.models import IndexedResult, Job, SyncState
from tests.conftest import clear_caches
from tests.support.corpus import garment_photo, person_photo
from tests.support.index import catch_up
from tests.support.simulator import SimulatorProcess
from tests.support.sync import sync_running
from tests.support.waiting import record_sleeps, wait_until

# Committed rows: the sync process runs in a thread of its own, with its own connection.
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

HTMX = {"HX-Request": "true"}
CREATE_PATH = "/generation/generate_image_v2/"
BANNER = 'id="upstream-banner"'
KEPT = re.compile(r'name="(person|clothes)__kept" value="(\d+)"')


@dataclass
class Fault:
    """How to break the upstream, how to mend it, and what a designer must read meanwhile."""

    name: str
    knobs: dict = field(default_factory=dict)
    phrases: tuple[str, ...] = ()
    banner: bool = False  # the banner for "unreachable" shows while it lasts
    stop_process: bool = False
    after_break: Callable[[SimulatorProcess], None] | None = None

    def start(self, simulator: SimulatorProcess) -> None:
        if self.stop_process:
            simulator.stop()
            return
        simulator.configure(**self.knobs)
        if self.after_break:
            self.after_break(simulator)

    def end(self, simulator: SimulatorProcess) -> None:
        if self.stop_process:
            simulator.start()
            return
        simulator.configure(latency_ms=0, error_rate=0.0, error_body="json", rate_limit=None, bad_body=None)


def use_up_the_rate_limit(simulator: SimulatorProcess) -> None:
    """The one request "1/60" allows: everything after it gets 429 with Retry-After ~60."""
    assert (
        requests.get(f"{simulator.base_url}/generation/tools", headers=simulator.headers, timeout=5).status_code == 200
    )


FAULTS = [
    Fault("slow", {"latency_ms": 2500}, ("took too long",), banner=True),
    Fault("server-error", {"error_rate": 1.0}, ("had a problem",)),
    Fault("bad-gateway-html", {"error_rate": 1.0, "error_body": "html"}, ("had a problem",)),
    # A long Retry-After is never slept through: every page answers at once.
    Fault("rate-limited", {"rate_limit": "1/60"}, ("busy",), after_break=use_up_the_rate_limit),
    Fault("refused", phrases=("cannot be reached",), banner=True, stop_process=True),
    Fault("html-200", {"bad_body": "html"}, ("cannot read",)),
    Fault("truncated-json", {"bad_body": "json"}, ("cannot read",)),
]


# --- Set-up ------------------------------------------------------------------------------


@pytest.fixture
def designer(settings, on_simulator, designer):
    """Ada, logged into `client`, with Django on the real simulator and short timeouts."""
    settings.GENAPI_READ_TIMEOUT = 1.0
    settings.GENAPI_UPLOAD_TIMEOUT = 1.0
    settings.GENAPI_READ_RETRIES = 1
    # /healthz here must follow the upstream from one request to the next; its probe
    # cache (tests/core/test_healthz.py) would otherwise report the fault for 15 s.
    settings.HEALTHZ_CACHE_SECONDS = 0
    return designer


def send(client):
    return client.post(
        reverse("home"),
        {
            "tool": "fashion_swap",
            "submission": new_token(),
            "tool_group": "fashion",  # the form carries it, for when the catalogue cannot be read
            "clothes": SimpleUploadedFile("dress.png", garment_photo(), "image/png"),
            "person": SimpleUploadedFile("model.png", person_photo(fmt="PNG"), "image/png"),
        },
        headers=HTMX,
    )


def upstream_status(simulator: SimulatorProcess, item_id: str) -> str:
    response = requests.get(
        f"{simulator.base_url}/user/generation-history/{item_id}", headers=simulator.headers, timeout=5
    )
    assert response.status_code == 200, response.text
    return response.json()["status"]


def upstream_exists(simulator: SimulatorProcess, item_id: str) -> bool:
    response = requests.get(
        f"{simulator.base_url}/user/generation-history/{item_id}", headers=simulator.headers, timeout=5
    )
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200


@pytest.fixture
def finished_job(client, designer, simulator) -> Job:
    """A designer who opened the generate page and sent one job, which has finished
    upstream while the dashboard still believes it runs (the sync has not seen it end)."""
    catch_up()  # the sync has read the history before: the index is current
    simulator.configure(job_seconds=0)
    assert client.get(reverse("home")).status_code == 200  # the page they submit from
    assert send(client).status_code == 200
    job = Job.objects.get(designer=designer)
    wait_until(
        lambda: upstream_status(simulator, job.history_item_id) == "complete",
        timeout=20,  # the set-up's wait, not a claim about speed: a busy machine's simulator took over 5 s
        interval=0.05,
        message="the simulator did not finish the job",
    )
    assert Job.objects.get(pk=job.pk).is_pending
    assert IndexedResult.objects.get(history_item_id=job.history_item_id).status == "pending"
    # Forget the finished item if a read cached it, or the pages under the fault answer from the cache.
    cached._forget(job.history_item_id)
    return job


# --- Checks -----------------------------------------------------------------------------------


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Seconds of every time.sleep() in this process (the dashboard runs in it)."""
    return record_sleeps(monkeypatch)


def answered(fault: Fault, sleeps: list[float], call: Callable[[], object]):
    """A page under the fault: it must not sleep to wait anything out."""
    before = len(sleeps)
    response = call()
    assert sleeps[before:] == [], f"a page slept {sleeps[before:]} s under {fault.name}"
    return response


def text(response) -> str:
    return response.content.decode()


def explains(fault: Fault, body: str) -> None:
    assert any(phrase in body for phrase in fault.phrases), f"none of {fault.phrases} in:\n{body[:3000]}"


def creations(simulator: SimulatorProcess) -> int:
    return sum(1 for entry in simulator.requests() if entry["method"] == "POST" and entry["path"] == CREATE_PATH)


def upstream_calls(caplog) -> int:
    """Calls this process made to the upstream (one log line each, whatever the answer:
    counted here rather than in the simulator's log, which a stopped simulator cannot give)."""
    return sum(1 for r in caplog.records if r.name == "dashboard.genapi" and r.getMessage().startswith("genapi "))


def sync_meets(fault: Fault, settings) -> str:
    """The sync process running while the fault lasts: what it records as the problem."""
    with sync_running(settings):
        problem = wait_until(
            lambda: SyncState.objects.filter(name="history").values_list("problem", flat=True).first(),
            timeout=20,
            interval=0.1,
            message=f"the sync recorded no problem under {fault.name}",
        )
        # Its news ages while the fault lasts: past SYNC_STALE_SECONDS the index's pages say so.
        wait_until(lambda: index_status.current().stale, timeout=10, message="the index never went out of date")
    return problem


# --- Under the fault -----------------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.name)
def test_pages_explain_the_fault_keep_uploads_and_recover(
    client, designer, simulator, finished_job, fault, sleeps, settings, caplog
):
    # A delete that timed out may still have happened upstream ("slow"): the job is then
    # dropped once the grace for missing jobs is over, which here is at once.
    settings.MISSING_JOB_GRACE_SECONDS = 0
    settings.SYNC_STALE_SECONDS = 1
    caplog.set_level(logging.INFO, logger="dashboard.genapi")
    item_id = finished_job.history_item_id
    jobs_before = Job.objects.count()
    simulator.clear_requests()
    fault.start(simulator)
    try:
        # What reads the index goes on working: the generate page (its catalogue cached), the
        # tray, the gallery, the lightbox and the running card's poll, with no upstream call.
        calls = upstream_calls(caplog)
        page = answered(fault, sleeps, lambda: client.get(reverse("home")))
        assert page.status_code == 200 and f"job-{item_id}" in text(page)
        assert BANNER not in text(page)  # no call of this page failed
        tray = answered(fault, sleeps, lambda: client.get(reverse("tray"), headers=HTMX))
        assert tray.status_code == 200
        assert f"job-{item_id}" in text(tray) and "Running ·" in text(tray)
        gallery = answered(fault, sleeps, lambda: client.get(reverse("history")))
        assert gallery.status_code == 200 and f'id="card-{item_id}"' in text(gallery)
        detail = answered(fault, sleeps, lambda: client.get(reverse("history_item", args=[item_id])))
        assert detail.status_code == 200 and item_id in text(detail)
        poll = answered(fault, sleeps, lambda: client.get(reverse("history_poll") + f"?ids={item_id}", headers=HTMX))
        assert poll.status_code == 204  # still running as far as the index knows
        assert upstream_calls(caplog) == calls, "a page that reads the index called the upstream"

        # Sending a job: the message, both photos still attached, nothing created twice.
        sent = answered(fault, sleeps, lambda: send(client))
        assert sent.status_code == 200
        body = text(sent)
        explains(fault, body)
        kept = dict(KEPT.findall(body))
        assert set(kept) == {"person", "clothes"}, "the uploaded photos were not kept"
        assert Job.objects.count() == jobs_before, "a job row was recorded for a job the upstream did not take"
        if not fault.stop_process:
            assert creations(simulator) <= 1

        # Sending again with the kept photos (what the form now carries) stays one try each.
        again = answered(
            fault,
            sleeps,
            lambda: client.post(
                reverse("home"),
                {
                    "tool": "fashion_swap",
                    "submission": new_token(),
                    "person__kept": kept["person"],
                    "clothes__kept": kept["clothes"],
                },
                headers=HTMX,
            ),
        )
        assert again.status_code == 200
        explains(fault, text(again))
        assert dict(KEPT.findall(text(again))) == kept
        assert Job.objects.count() == jobs_before
        if not fault.stop_process:
            assert creations(simulator) <= 2

        # Rating it, deleting it (both need the upstream first), its image.
        rated = answered(
            fault, sleeps, lambda: client.post(reverse("feedback", args=[item_id]), {"like": "true"}, headers=HTMX)
        )
        assert rated.status_code == 200
        explains(fault, text(rated))
        deleted = answered(fault, sleeps, lambda: client.post(reverse("history_delete", args=[item_id]), headers=HTMX))
        assert deleted.status_code == 200
        explains(fault, text(deleted))
        assert "Could not delete it" in text(deleted)
        assert Job.objects.filter(pk=finished_job.pk).exists(), "the local record went although the delete failed"
        image = answered(fault, sleeps, lambda: client.get(reverse("result_image", args=[item_id, "preview"])))
        assert image.status_code in (404, 502, 503)
        assert image["Content-Type"] == "image/png" and image.content.startswith(b"\x89PNG")

        health = answered(fault, sleeps, lambda: client.get(reverse("healthz")))
        assert health.status_code == 503
        assert health.json()["upstream"] == "unavailable"

        # A worker whose catalogue cache is cold (expired, or another process): the
        # generate page needs the upstream, and says what is wrong.
        clear_caches()
        cold = answered(fault, sleeps, lambda: client.get(reverse("home")))
        assert cold.status_code == 200
        explains(fault, text(cold))
        assert (BANNER in text(cold)) == fault.banner

        # The sync meets the fault too: once its news is older than SYNC_STALE_SECONDS,
        # the index's pages say so, in the fault's words, and the cards stay as they were.
        explains(fault, sync_meets(fault, settings))
        gallery = client.get(reverse("history"))
        assert gallery.status_code == 200 and f'id="card-{item_id}"' in text(gallery)
        assert "Last updated" in text(gallery)
        explains(fault, text(gallery))
        tray = client.get(reverse("tray"), headers=HTMX)
        assert "Running ·" in text(tray) and "Last updated" in text(tray)
        explains(fault, text(tray))
        assert client.get(reverse("healthz")).json()["sync"] == "behind"
    finally:
        fault.end(simulator)

    settings.SYNC_STALE_SECONDS = 60  # its default again: the recovery is not timed here
    assert_recovered(client, designer, simulator, item_id)


def assert_recovered(client, designer, simulator: SimulatorProcess, item_id: str) -> None:
    """With the fault gone, the same pages work again within a couple of requests, and
    the index with the sync's next ticks."""
    catch_up()  # what the sync process does by itself once the upstream answers
    for _ in range(3):
        page = client.get(reverse("home"))
        if BANNER not in text(page) and "tool-chip" in text(page):
            break
    body = text(page)
    assert page.status_code == 200
    assert "tool-chip" in body and 'id="generate-form"' in body, "no tools on the generate page"
    assert BANNER not in body, "the upstream banner stayed"

    tray = client.get(reverse("tray"), headers=HTMX)
    assert tray.status_code == 200 and "notice-warning" not in text(tray) and "Last updated" not in text(tray)
    assert not Job.objects.filter(history_item_id=item_id, status=Job.Status.PENDING).exists()

    simulator.clear_requests()
    before = set(Job.objects.values_list("history_item_id", flat=True))
    sent = send(client)
    assert sent.status_code == 200 and "Job sent" in text(sent)
    (new_id,) = set(Job.objects.values_list("history_item_id", flat=True)) - before
    assert creations(simulator) == 1
    assert f"job-{new_id}" in text(sent)

    gallery = client.get(reverse("history"))
    assert gallery.status_code == 200
    assert f'id="card-{new_id}"' in text(gallery) and BANNER not in text(gallery)
    assert "Last updated" not in text(gallery)
    # A delete that timed out may still have happened upstream after the dashboard gave up.
    if upstream_exists(simulator, item_id):
        assert f'id="card-{item_id}"' in text(gallery)
        assert client.get(reverse("history_item", args=[item_id])).status_code == 200
        image = client.get(reverse("result_image", args=[item_id, "preview"]))
        assert image.status_code == 200 and image["Content-Type"] == "image/webp"
    else:
        assert client.get(reverse("history_item", args=[item_id])).status_code == 404
    health = client.get(reverse("healthz"))
    assert health.status_code == 200 and health.json()["sync"] == "ok"


# --- Without JavaScript: failures of a rating or a delete are still said -------------------


@pytest.mark.parametrize("fault", [FAULTS[1], FAULTS[4]], ids=lambda fault: fault.name)
def test_without_javascript_a_failed_rating_or_delete_is_said_after_the_redirect(
    client, designer, simulator, finished_job, fault
):
    item_id = finished_job.history_item_id
    fault.start(simulator)
    try:
        rated = client.post(
            reverse("feedback", args=[item_id]), {"like": "true", "next": reverse("history")}, follow=True
        )
        assert rated.status_code == 200
        explains(fault, text(rated))
        deleted = client.post(reverse("history_delete", args=[item_id]), follow=True)
        assert deleted.status_code == 200
        assert "Could not delete it" in text(deleted)
        assert Job.objects.filter(pk=finished_job.pk).exists()
    finally:
        fault.end(simulator)


# --- When the tool list is not cached yet --------------------------------------------------


def test_uploads_are_kept_when_the_tool_list_cannot_be_read(client, designer, simulator):
    """A worker whose catalogue cache is cold (expired, or another process) when the
    designer submits: the photos must still come back attached, with the reason."""
    fault = FAULTS[1]
    fault.start(simulator)
    try:
        sent = send(client)
        assert sent.status_code == 200
        explains(fault, text(sent))
        assert set(dict(KEPT.findall(text(sent)))) == {"person", "clothes"}, "the uploaded photos were lost"
        assert Job.objects.count() == 0
    finally:
        fault.end(simulator)
