"""The recent-jobs tray: polling that stays cheap, pacing, and the finished states."""

import re
from datetime import timedelta

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from dashboard.models import Job
from tests.conftest import clear_caches
from tests.factories import DesignerFactory

pytestmark = pytest.mark.postgres_redis

API = "http://genapi.test"
LISTING = re.compile(rf"{API}/user/generation-history\?.*status=pending.*")


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
class TestPollingCost:
    @pytest.mark.parametrize("pending", [1, 5, 12])
    def test_a_steady_tick_costs_one_listing_call_whatever_the_number_of_running_jobs(self, client, designer, pending):
        jobs = make_jobs(designer, pending)
        with responses.RequestsMock() as api:
            api.get(
                LISTING,
                json={
                    "page": 1,
                    "pages": 1,
                    "total_count": pending,
                    "items": [item(j.history_item_id, "pending") for j in jobs],
                },
            )
            response = tick(client)
            assert len(api.calls) == 1
        assert response.content.decode().count("Running ·") == pending

    def test_only_jobs_that_left_the_pending_listing_get_a_detail_read(self, client, designer):
        jobs = make_jobs(designer, 6)
        done, failed = jobs[0].history_item_id, jobs[1].history_item_id
        with responses.RequestsMock() as api:
            api.get(
                LISTING,
                json={"items": [item(j.history_item_id, "pending") for j in jobs[2:]], "pages": 1, "total_count": 4},
            )
            api.get(
                f"{API}/user/generation-history/{done}",
                json=item(done, "complete", preview_url="/image/p.webp", like=True),
            )
            api.get(
                f"{API}/user/generation-history/{failed}",
                json=item(failed, "error", error="No person was found in the model photo"),
            )
            body = tick(client).content.decode()
            asked = [call.request.method + " " + call.request.path_url.split("?")[0] for call in api.calls]
            assert asked[0] == "GET /user/generation-history"
            assert sorted(asked[1:]) == sorted(
                [f"GET /user/generation-history/{done}", f"GET /user/generation-history/{failed}"]
            )
        assert Job.objects.get(history_item_id=done).status == "complete"
        assert Job.objects.get(history_item_id=failed).error_message == "No person was found in the model photo"
        assert f"/results/{done}/preview" in body
        assert "No person was found in the model photo" in body and "Try again" in body
        # A later tick (once the shared snapshot of running jobs has expired) asks
        # nothing about the finished ones.
        clear_caches()  # never a bare cache.clear(): on Redis that is FLUSHDB, guarded there
        with responses.RequestsMock() as api:
            api.get(
                LISTING,
                json={"items": [item(j.history_item_id, "pending") for j in jobs[2:]], "pages": 1, "total_count": 4},
            )
            tick(client)
            assert len(api.calls) == 1

    def test_a_job_deleted_upstream_leaves_the_tray(self, client, designer, settings):
        settings.MISSING_JOB_GRACE_SECONDS = 0  # kept while it lasts: tests/genapi/test_hostile_upstream.py
        (gone,) = make_jobs(designer, 1)
        with responses.RequestsMock() as api:
            api.get(LISTING, json={"items": [], "pages": 0, "total_count": 0})
            api.get(f"{API}/user/generation-history/{gone.history_item_id}", status=404, json={"detail": "Not found"})
            body = tick(client).content.decode()
        assert not Job.objects.exists()
        assert "No jobs yet" in body

    def test_when_the_upstream_fails_the_cards_stay_running_and_polling_goes_on(self, client, designer):
        make_jobs(designer, 2)
        with responses.RequestsMock() as api:
            api.get(LISTING, status=503, json={"detail": "down"})
            body = tick(client).content.decode()
        assert body.count("Running ·") == 2
        assert 'hx-trigger="every 2s"' in body
        assert "had a problem processing" in body


@pytest.mark.django_db
class TestSharedSnapshot:
    def test_many_designers_polling_at_once_share_one_listing(self, client):
        designers = DesignerFactory.create_batch(5)
        with responses.RequestsMock() as api:
            api.get(LISTING, json={"items": [item(f"job{n:021d}", "pending") for n in range(5)], "pages": 1})
            for n, designer in enumerate(designers):
                Job.objects.create(history_item_id=f"job{n:021d}", designer=designer, tool="fashion_swap")
                client.force_login(designer)
                assert "Running ·" in tick(client).content.decode()
            assert len(api.calls) == 1

    def test_a_team_with_more_running_jobs_than_one_listing_holds_pages_through_them(self, client, designer):
        (mine,) = make_jobs(designer, 1)
        first_page = [item(f"other{n:019d}", "pending") for n in range(100)]
        with responses.RequestsMock() as api:
            api.get(
                LISTING,
                match=[responses.matchers.query_param_matcher({"page": "1", "limit": "100", "status": "pending"})],
                json={"items": first_page, "page": 1, "pages": 2, "total_count": 101},
            )
            api.get(
                LISTING,
                match=[responses.matchers.query_param_matcher({"page": "2", "limit": "100", "status": "pending"})],
                json={"items": [item(mine.history_item_id, "pending")], "page": 2, "pages": 2, "total_count": 101},
            )
            assert "Running ·" in tick(client).content.decode()
            assert len(api.calls) == 2  # two listing pages, no detail read


@pytest.mark.django_db
class TestPacing:
    def _tick_with_all_pending(self, client, jobs):
        with responses.RequestsMock() as api:
            api.get(LISTING, json={"items": [item(j.history_item_id, "pending") for j in jobs], "pages": 1})
            return tick(client).content.decode()

    def test_fresh_jobs_poll_every_two_seconds(self, client, designer):
        body = self._tick_with_all_pending(client, make_jobs(designer, 1))
        assert 'hx-trigger="every 2s"' in body

    def test_after_thirty_seconds_polling_slows_to_five(self, client, designer):
        body = self._tick_with_all_pending(client, make_jobs(designer, 1, age_seconds=31))
        assert 'hx-trigger="every 5s"' in body

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
        # Ticks close together share one snapshot of running jobs: the listing may not be read.
        with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
            api.get(LISTING, json={"items": [item(j.history_item_id, "pending") for j in running], "pages": 1})
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
        assert 'hx-trigger="every 5s"' in again.content.decode()
        assert self._tick(client, running, self._poll_url(again)).status_code == 204
