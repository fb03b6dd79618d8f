"""Who did what to a result: runs, ratings and deletions are recorded and shown on the
result's lightbox ("bob liked it · just now"). Two designers, the real simulator.
"""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from dashboard.core.tokens import new as new_token
from dashboard.models import Job
from tests.support.corpus import garment_photo, person_photo
from tests.support.index import catch_up
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.postgres_redis]
HTMX = {"HX-Request": "true"}
LIGHTBOX = {**HTMX, "HX-Target": "lightbox"}


@pytest.fixture
def ada(ada, on_simulator):
    """Ada, with Django on the real simulator; each test logs its designers in."""
    return ada


def finished_job(client, simulator) -> Job:
    simulator.configure(job_seconds=0)
    client.post(
        reverse("home"),
        {
            "tool": "fashion_swap",
            "submission": new_token(),
            "clothes": SimpleUploadedFile("dress.png", garment_photo(), "image/png"),
            "person": SimpleUploadedFile("model.png", person_photo(fmt="PNG"), "image/png"),
        },
        headers=HTMX,
    )
    job = Job.objects.order_by("-id").first()

    def finished() -> bool:
        catch_up()  # what the sync process does by itself: the job's end reaches the index
        job.refresh_from_db()
        return not job.is_pending

    wait_until(finished, timeout=10, interval=0.1, message=f"job {job.history_item_id} still pending")
    assert job.status == "complete"
    return job


def activity(client, item_id: str) -> list[str]:
    """The lightbox's list of recent actions, newest first, as a designer reads it."""
    html = client.get(reverse("history_item", args=[item_id]), headers=LIGHTBOX).content.decode()
    section = re.search(r'<section aria-label="Activity">(.*?)</section>', html, re.S)
    assert section, "the lightbox shows no activity"
    return [
        " ".join(re.sub(r"<[^>]+>", "", entry).split())
        for entry in re.findall(r"<li[^>]*>(.*?)</li>", section.group(1), re.S)
    ]


class TestTheLightboxSaysWhoDidWhat:
    def test_runs_and_ratings_by_two_designers(self, client, ada, bob, simulator):
        client.force_login(ada)
        job = finished_job(client, simulator)
        client.force_login(bob)
        client.post(reverse("feedback", args=[job.history_item_id]), {"like": "true"}, headers=HTMX)
        client.force_login(ada)
        client.post(reverse("feedback", args=[job.history_item_id]), {"like": "false"}, headers=HTMX)

        assert activity(client, job.history_item_id) == [
            "ada disliked it · just now",
            "bob liked it · just now",
            "ada sent it · just now",
        ]

    def test_a_failed_action_is_recorded_as_tried(self, client, ada, simulator):
        client.force_login(ada)
        job = finished_job(client, simulator)
        simulator.configure(error_rate=1.0)
        client.post(reverse("feedback", args=[job.history_item_id]), {"like": "true"}, headers=HTMX)
        simulator.configure(error_rate=0.0)
        (latest, *_) = activity(client, job.history_item_id)
        assert latest.startswith("ada tried to like it, but it failed:")

    def test_run_again_is_shown_on_both_results(self, client, ada, bob, simulator):
        client.force_login(ada)
        job = finished_job(client, simulator)
        client.force_login(bob)
        client.post(reverse("rerun", args=[job.history_item_id]), {"submission": new_token()}, headers=HTMX)
        again = Job.objects.exclude(pk=job.pk).get()
        assert activity(client, job.history_item_id)[0] == "bob ran it again · just now"
        assert activity(client, again.history_item_id) == ["bob sent it again from an earlier result · just now"]

    def test_bulk_actions_are_recorded_per_result(self, client, ada, bob, simulator):
        client.force_login(ada)
        first, second = finished_job(client, simulator), finished_job(client, simulator)
        client.force_login(bob)
        client.post(reverse("history_bulk"), {"action": "like", "ids": [first.history_item_id, second.history_item_id]})
        for job in (first, second):
            assert activity(client, job.history_item_id)[0] == "bob liked it (with others selected) · just now"

    def test_deletions_are_kept_after_the_result_is_gone(self, client, ada, bob, simulator):
        from dashboard.models import AuditEntry

        client.force_login(ada)
        first, second = finished_job(client, simulator), finished_job(client, simulator)
        client.force_login(bob)
        client.post(reverse("history_delete", args=[first.history_item_id]))
        client.post(reverse("history_bulk"), {"action": "delete", "ids": [second.history_item_id]})
        trashed = AuditEntry.objects.filter(action="trash").order_by("created_at", "pk")
        assert [(e.actor_name, e.history_item_id, e.bulk, e.succeeded) for e in trashed] == [
            ("bob", first.history_item_id, False, True),
            ("bob", second.history_item_id, True, True),
        ]
        client.post(reverse("trash_empty"))
        deleted = AuditEntry.objects.filter(action="delete").order_by("created_at", "pk")
        assert [(e.actor_name, e.history_item_id, e.succeeded) for e in deleted] == [
            ("bob", first.history_item_id, True),
            ("bob", second.history_item_id, True),
        ]
