"""Odd or unfriendly upstream answers, seen through the dashboard's pages (HTTP stubbed).

Each case here was a defect: a 500, a wrong message, or a record dropped that should
have been kept.
"""

import re
import threading
import time

import pytest
import requests
import responses
from django.urls import reverse
from django.utils import timezone

from dashboard import genapi
from dashboard.jobs import services as jobs
from dashboard.models import Job, TrashedResult
from tests.factories import DesignerFactory

# On PostgreSQL and Redis too: the running-jobs snapshot, not-found answers and the catalogue
# live in the shared cache (pollers arriving together share one listing; Redis rounds a
# timeout to whole seconds, which the snapshot's own clock must not care about).
pytestmark = pytest.mark.postgres_redis

API = "http://genapi.test"
TOOLS = [{"group_tool": "fashion", "tool": "fashion_swap", "title": "Fashion Swap"}]
STYLES = [{"id": "a" * 24, "title": "Studio white", "preview_url": "image/s/a.png"}]
LISTING = re.compile(rf"{API}/user/generation-history\?.*")
PENDING_LISTING = re.compile(rf"{API}/user/generation-history\?.*status=pending.*")
HTMX = {"HX-Request": "true"}


def item(item_id: str, status: str = "complete", **extra) -> dict:
    return {
        "id": item_id,
        "status": status,
        "generation_type": "fashion_swap",
        "created_at": "2026-11-25T10:00:00Z",
        "preview_url": "/image/p.png",
        "stock_url": "/image/s.png",
        **extra,
    }


def listing(*items: dict) -> dict:
    return {"page": 1, "pages": 1, "total_count": len(items), "items": list(items)}


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{API}/generation/tools", json=TOOLS)
        yield mock


@pytest.mark.django_db
class TestOddDataNeverGivesA500:
    def test_a_style_id_with_a_slash_leaves_the_generate_page_working(self, client, designer, api):
        api.get(re.compile(rf"{API}/generation/generationTypes\?.*"), json=[{"id": "a/b", "title": "Slashed"}, *STYLES])
        api.get(LISTING, json=listing())
        response = client.get(reverse("home"))
        assert response.status_code == 200
        page = response.content.decode()
        assert "Studio white" in page and "Slashed" not in page

    def test_an_item_id_with_a_slash_leaves_the_lightbox_of_its_neighbour_working(self, client, designer, api):
        good = "b" * 24
        api.get(re.compile(rf"{API}/generation/generationTypes\?.*"), json=STYLES)
        api.get(LISTING, json=listing(item("x/y"), item(good)))
        api.get(f"{API}/user/generation-history/{good}", json=item(good))
        gallery = client.get(reverse("history"))
        lightbox = client.get(reverse("history_item", args=[good]))
        assert gallery.status_code == 200 and lightbox.status_code == 200
        assert good in gallery.content.decode() and "x/y" not in gallery.content.decode()

    def test_an_image_path_with_an_impossible_port_gets_the_placeholder(self, client, designer, api):
        odd = "c" * 24
        api.get(f"{API}/user/generation-history/{odd}", json=item(odd, preview_url="http://genapi.test:99999/p.png"))
        response = client.get(reverse("result_image", args=[odd, "preview"]))
        assert response.status_code == 404
        assert response["Content-Type"] == "image/png" and response["Cache-Control"] == "no-store"


@pytest.mark.django_db
class TestProblemsBelongToTheRequestThatMetThem:
    def test_one_designers_failed_call_shows_no_banner_on_the_next_page(self, client, designer, api):
        api.get(re.compile(rf"{API}/generation/generationTypes\?.*"), json=STYLES)
        api.get(LISTING, body=requests.ConnectionError("refused"))
        failed = client.get(reverse("history"))
        assert "cannot be reached" in failed.content.decode()  # the designer who met it is told
        # The next page makes no upstream call at all (catalogue cached, nothing running).
        other = DesignerFactory(username="grace")
        client.force_login(other)
        calls_before = len(api.calls)
        page = client.get(reverse("home")).content.decode()
        assert len(api.calls) == calls_before
        assert 'id="upstream-banner"' not in page

    def test_a_refused_key_is_still_shown_on_the_page_that_met_it(self, client, designer, api, settings):
        settings.GENAPI_API_KEY = "wrong-key"
        api.get(re.compile(rf"{API}/generation/generationTypes\?.*"), status=401, json={"detail": "bad key"})
        api.get(LISTING, status=401, json={"detail": "bad key"})
        page = client.get(reverse("history")).content.decode()
        assert 'id="upstream-banner"' in page and "GENAPI_API_KEY" in page


@pytest.mark.django_db
class TestADeleteIsADeleteOnlyWhenTheUpstreamSaysSo:
    """Deleting for good (from the trash) is the one upstream delete."""

    @pytest.mark.parametrize(
        ("status", "body"), [(202, {"status": "queued"}), (200, {"success": False}), (200, {"deleted": False})]
    )
    def test_an_unconfirmed_delete_keeps_the_result_and_says_so(self, client, designer, api, status, body):
        item_id = "d" * 24
        Job.objects.create(history_item_id=item_id, designer=designer, tool="fashion_swap")
        TrashedResult.objects.create(history_item_id=item_id, trashed_by_name="ada", trashed_at=timezone.now())
        api.delete(f"{API}/user/generation-history/{item_id}", status=status, json=body)
        html = client.post(reverse("trash_delete", args=[item_id]), follow=True).content.decode()
        assert "Could not delete it" in html
        assert Job.objects.filter(history_item_id=item_id).exists()
        assert TrashedResult.objects.filter(history_item_id=item_id).exists()

    @pytest.mark.parametrize(("status", "body"), [(204, None), (200, {"success": True}), (200, {})])
    def test_a_confirmed_delete_removes_it(self, client, designer, api, status, body):
        item_id = "d" * 24
        Job.objects.create(history_item_id=item_id, designer=designer, tool="fashion_swap")
        TrashedResult.objects.create(history_item_id=item_id, trashed_by_name="ada", trashed_at=timezone.now())
        api.delete(
            f"{API}/user/generation-history/{item_id}", status=status, **({"json": body} if body is not None else {})
        )
        html = client.post(reverse("trash_delete", args=[item_id]), follow=True).content.decode()
        assert "Deleted for good." in html
        assert not Job.objects.filter(history_item_id=item_id).exists()
        assert not TrashedResult.objects.exists()


@pytest.mark.django_db
class TestARunningJobIsNotForgottenOnOneNotFound:
    def test_a_job_the_upstream_briefly_does_not_know_stays_in_the_tray(self, client, designer, api):
        item_id = "f" * 24
        Job.objects.create(history_item_id=item_id, designer=designer, tool="fashion_swap", tool_title="Fashion Swap")
        api.get(PENDING_LISTING, json=listing())
        api.get(f"{API}/user/generation-history/{item_id}", status=404, json={"detail": "Not found"})
        client.get(reverse("tray"), headers=HTMX)
        assert Job.objects.filter(history_item_id=item_id).exists()

    def test_a_job_missing_for_longer_than_the_grace_period_is_dropped(self, client, designer, api, settings):
        settings.MISSING_JOB_GRACE_SECONDS = 0
        item_id = "f" * 24
        Job.objects.create(history_item_id=item_id, designer=designer, tool="fashion_swap", tool_title="Fashion Swap")
        api.get(PENDING_LISTING, json=listing())
        api.get(f"{API}/user/generation-history/{item_id}", status=404, json={"detail": "Not found"})
        client.get(reverse("tray"), headers=HTMX)
        genapi.forget_running()
        client.get(reverse("tray"), headers=HTMX)
        assert not Job.objects.filter(history_item_id=item_id).exists()


@pytest.mark.django_db
class TestPollsStayCheapWhateverTheyAskAbout:
    def test_a_poll_naming_a_hundred_invented_ids_costs_a_bounded_number_of_reads(self, client, designer, api):
        invented = [f"{n:024x}" for n in range(100)]
        api.get(PENDING_LISTING, json=listing())
        api.get(re.compile(rf"{API}/user/generation-history/[0-9a-f]{{24}}"), status=404, json={"detail": "Not found"})
        client.get(reverse("history_poll") + "?ids=" + ",".join(invented), headers=HTMX)
        first = len([c for c in api.calls if "/generation-history/" in c.request.url])
        assert first <= jobs.DETAIL_READS_PER_REFRESH
        client.get(reverse("history_poll") + "?ids=" + ",".join(invented[:first]), headers=HTMX)
        again = len([c for c in api.calls if "/generation-history/" in c.request.url]) - first
        assert again == 0  # not-found answers are remembered for a moment

    def test_many_pollers_arriving_together_share_one_listing(self, designer, api):
        started = threading.Barrier(6)
        api.get(PENDING_LISTING, json=listing(item("e" * 24, "pending")))
        results = []

        def poller():
            started.wait()
            results.append(genapi.running())

        threads = [threading.Thread(target=poller) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 6 and all("e" * 24 in found for found in results)
        assert len([c for c in api.calls if "status=pending" in c.request.url]) == 1

    def test_the_snapshot_lives_by_its_own_clock_not_the_backends_rounding(self, designer, api, monkeypatch):
        # Redis keeps whole seconds: a 1.5 s timeout became 1 s there. The entry carries
        # the time it was taken, so it is fresh for 1.5 s on every backend.
        from dashboard.genapi import cached

        now = [1_000_000.0]
        clock = type(
            "Clock", (), {"time": staticmethod(lambda: now[0]), "monotonic": time.monotonic, "sleep": time.sleep}
        )
        monkeypatch.setattr(cached, "time", clock)
        api.get(PENDING_LISTING, json=listing(item("e" * 24, "pending")))

        def listings() -> int:
            return len([c for c in api.calls if "status=pending" in c.request.url])

        genapi.running()
        now[0] += 1.2
        genapi.running()
        assert listings() == 1  # still fresh after 1.2 s
        now[0] += 0.4
        genapi.running()
        assert listings() == 2  # 1.6 s: taken again
