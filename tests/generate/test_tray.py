"""The recent-jobs tray: it reads the index (no upstream call a tick), its pacing, and the
finished states."""

import re
from datetime import timedelta

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from dashboard.jobs import services as jobs
from dashboard.models import Job, SyncState
from tests.factories import DesignerFactory
from tests.support.index import indexed

pytestmark = pytest.mark.postgres_redis


def item(item_id: str, status: str, **extra) -> dict:
    return {
        "id": item_id,
        "status": status,
        "generation_type": "fashion_swap",
        "created_at": "2026-11-25T10:00:00Z",
        **extra,
    }


def make_jobs(designer, count: int, *, age_seconds: int = 0) -> list[Job]:
    jobs = [
        Job.objects.create(
            history_item_id=f"job{n:021d}", designer=designer, tool="fashion_swap", tool_title="Fashion Swap"
        )
        for n in range(count)
    ]
    if age_seconds:
        Job.objects.filter(pk__in=[j.pk for j in jobs]).update(
            created_at=timezone.now() - timedelta(seconds=age_seconds)
        )
    return jobs


def tick(client):
    return client.get(reverse("tray"), headers={"HX-Request": "true"})


@pytest.mark.django_db
class TestTheTrayReadsTheIndex:
    """The sync process follows the statuses (tests/index/test_sync.py counts its calls);
    a tick of the tray, whoever polls and however many jobs run, asks the upstream nothing."""

    @pytest.mark.parametrize("pending", [1, 5, 12])
    def test_a_tick_makes_no_upstream_call_whatever_the_number_of_running_jobs(self, client, designer, pending):
        jobs = make_jobs(designer, pending)
        indexed(*(item(job.history_item_id, "pending") for job in jobs))
        with responses.RequestsMock() as api:
            response = tick(client)
            assert len(api.calls) == 0
        assert response.content.decode().count("Running ·") == pending

    def test_jobs_the_sync_saw_finish_show_their_result_or_their_error(self, client, designer):
        jobs = make_jobs(designer, 6)
        done, failed = jobs[0].history_item_id, jobs[1].history_item_id
        indexed(
            item(done, "complete", preview_url="/image/done.webp"),
            item(failed, "error", error="No person was found in the model photo"),
            *(item(job.history_item_id, "pending") for job in jobs[2:]),
        )
        with responses.RequestsMock():
            body = tick(client).content.decode()
        assert Job.objects.get(history_item_id=done).status == "complete"
        assert Job.objects.get(history_item_id=failed).error_message == "No person was found in the model photo"
        assert f"/results/{done}/preview" in body
        assert "No person was found in the model photo" in body and "Try again" in body
        assert body.count("Running ·") == 4

    def test_a_job_gone_upstream_leaves_the_tray(self, client, designer, settings):
        settings.MISSING_JOB_GRACE_SECONDS = 0  # kept while it lasts: tests/index/test_sync.py
        (gone,) = make_jobs(designer, 1)
        jobs.not_found([gone.history_item_id])  # what the sync concludes from the upstream's 404
        with responses.RequestsMock():
            body = tick(client).content.decode()
        assert not Job.objects.exists()
        assert "No jobs yet" in body

    def test_while_the_index_is_out_of_date_the_cards_stay_running_say_so_and_polling_goes_on(self, client, designer):
        make_jobs(designer, 2)
        SyncState.objects.create(
            name="history", last_contact_at=timezone.now() - timedelta(minutes=5), problem="the service is down"
        )
        with responses.RequestsMock():
            body = tick(client).content.decode()
        assert body.count("Running ·") == 2
        assert 'hx-trigger="every 2s, live-refresh"' in body
        assert re.search(r"Last updated 5\s+min ago", body)

    def test_many_designers_polling_cost_the_upstream_nothing(self, client):
        designers = DesignerFactory.create_batch(5)
        for n, designer in enumerate(designers):
            Job.objects.create(history_item_id=f"job{n:021d}", designer=designer, tool="fashion_swap")
        with responses.RequestsMock() as api:
            for designer in designers:
                client.force_login(designer)
                assert "Running ·" in tick(client).content.decode()
            assert len(api.calls) == 0


@pytest.mark.django_db
class TestPacing:
    def _tick_with_all_pending(self, client, jobs):
        with responses.RequestsMock():
            return tick(client).content.decode()

    def test_fresh_jobs_poll_every_two_seconds(self, client, designer):
        body = self._tick_with_all_pending(client, make_jobs(designer, 1))
        assert 'hx-trigger="every 2s, live-refresh"' in body

    def test_after_thirty_seconds_polling_slows_to_five(self, client, designer):
        body = self._tick_with_all_pending(client, make_jobs(designer, 1, age_seconds=31))
        assert 'hx-trigger="every 5s, live-refresh"' in body

    def test_polling_stops_when_nothing_is_running(self, client, designer):
        Job.objects.create(history_item_id="done1", designer=designer, tool="fashion_swap", status="complete")
        with responses.RequestsMock() as api:
            body = tick(client).content.decode()
            assert len(api.calls) == 0
        assert "hx-trigger" not in body

    def test_the_tab_title_counts_running_jobs(self, client, designer):
        body = self._tick_with_all_pending(client, make_jobs(designer, 3))
        assert body.lstrip().startswith("<title>(3) Generate · Nextry Studio</title>")

    def test_only_the_designers_own_jobs_are_in_the_tray(self, client, designer, bob):
        Job.objects.create(history_item_id="theirs", designer=bob, tool="fashion_swap", status="complete")
        with responses.RequestsMock():
            body = tick(client).content.decode()
        assert "theirs" not in body


@pytest.mark.django_db
class TestPollsThatChangeNothing:
    """The tray's poll carries what it shows (?seen=); the same state costs an empty 204."""

    def _tick(self, client, running, url=None):
        with responses.RequestsMock():
            return client.get(url or reverse("tray"), headers={"HX-Request": "true"})

    def _poll_url(self, response) -> str:
        return (
            re.search(r'id="job-tray"[^>]*?hx-get="([^"]+)"', response.content.decode()).group(1).replace("&amp;", "&")
        )

    def test_a_finished_jobs_age_moving_on_a_minute_brings_the_tray_again(self, client, designer):
        running = make_jobs(designer, 1)
        done = Job.objects.create(history_item_id="done1", designer=designer, tool="fashion_swap", status="complete")
        url = self._poll_url(self._tick(client, running))
        assert self._tick(client, running, url).status_code == 204
        Job.objects.filter(pk=done.pk).update(created_at=timezone.now() - timedelta(seconds=130))
        again = self._tick(client, running, url)
        assert again.status_code == 200
        assert re.search(r"2\s+min ago", again.content.decode())

    def test_slowing_down_to_five_seconds_brings_the_tray_with_the_new_pace(self, client, designer):
        running = make_jobs(designer, 1)
        url = self._poll_url(self._tick(client, running))
        Job.objects.filter(pk=running[0].pk).update(created_at=timezone.now() - timedelta(seconds=31))
        again = self._tick(client, running, url)
        assert again.status_code == 200
        assert 'hx-trigger="every 5s, live-refresh"' in again.content.decode()
        assert self._tick(client, running, self._poll_url(again)).status_code == 204
