"""Odd or unfriendly upstream answers, seen through the dashboard's pages (HTTP stubbed).

Each case here was a defect: a 500, a wrong message, or a record dropped that should
have been kept. Pages read the index (dashboard/index/) that the sync process keeps, so
the upstream's answers reach them through the sync (`catch_up`, `sync_tick` below).
"""

import json
import re
import threading
from datetime import timedelta

import pytest
import requests
import responses
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard.index import services as index
from dashboard.index import sync
from dashboard.models import IndexedResult, Job, TrashedResult
from tests.factories import DesignerFactory
from tests.support.index import catch_up, indexed

# On PostgreSQL and Redis too: the index's rows, the jobs' grace, polls from several
# threads at once (row visibility), not-found answers and the catalogue in the shared cache.
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
        catch_up()  # the sync reads the listing: an id no result can have is left out
        assert list(IndexedResult.objects.values_list("history_item_id", flat=True)) == [good]
        calls = len(api.calls)
        gallery = client.get(reverse("history"))
        lightbox = client.get(reverse("history_item", args=[good]))
        assert len(api.calls) == calls  # both drawn from the index
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
        api.get(re.compile(rf"{API}/user/generation-history/.*"), body=requests.ConnectionError("refused"))
        assert client.get(reverse("home")).status_code == 200  # the catalogue, read and cached
        # A result the sync has not reached yet is read from the upstream: that read fails.
        failed = client.get(reverse("history_item", args=["c" * 24]))
        assert "cannot be reached" in failed.content.decode()  # the designer who met it is told
        # The next page makes no upstream call at all (catalogue cached, the tray reads the index).
        other = DesignerFactory(username="grace")
        client.force_login(other)
        calls_before = len(api.calls)
        page = client.get(reverse("home")).content.decode()
        assert len(api.calls) == calls_before
        assert 'id="upstream-banner"' not in page

    def test_a_refused_key_is_still_shown_on_the_page_that_met_it(self, client, designer, api, settings):
        settings.GENAPI_API_KEY = "wrong-key"
        api.get(re.compile(rf"{API}/generation/generationTypes\?.*"), status=401, json={"detail": "bad key"})
        api.get(re.compile(rf"{API}/user/generation-history/.*"), status=401, json={"detail": "bad key"})
        page = client.get(reverse("history_item", args=["c" * 24])).content.decode()
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


def running_job(designer, item_id: str) -> Job:
    """A job sent from the Generate page: its record, and its row in the index (running)."""
    job = Job.objects.create(history_item_id=item_id, designer=designer, tool="fashion_swap", tool_title="Fashion Swap")
    index.record_created(job)
    return job


def sync_tick(known=None) -> None:
    """The sync process's duty for running results, once (dashboard/index/sync.py)."""
    syncer = sync.Syncer(budget=sync.Budget(10_000))
    syncer.running(known or syncer.catalogue())


@pytest.mark.django_db
class TestARunningJobIsNotForgottenOnOneNotFound:
    """The sync is the status poller now: an upstream that briefly does not know a job
    made here (a lagging listing or replica) must not lose its record."""

    def test_a_job_the_upstream_briefly_does_not_know_stays_in_the_tray(self, client, designer, api):
        item_id = "f" * 24
        running_job(designer, item_id)
        api.get(re.compile(rf"{API}/generation/generationTypes\?.*"), json=STYLES)
        api.get(PENDING_LISTING, json=listing())
        api.get(f"{API}/user/generation-history/{item_id}", status=404, json={"detail": "Not found"})
        sync_tick()
        assert Job.objects.filter(history_item_id=item_id).exists()
        assert IndexedResult.objects.filter(history_item_id=item_id, status="pending").exists()
        tray = client.get(reverse("tray"), headers=HTMX).content.decode()
        assert f"job-{item_id}" in tray and "Running ·" in tray

    def test_a_job_missing_for_longer_than_the_grace_period_is_dropped(self, client, designer, api, settings):
        settings.MISSING_JOB_GRACE_SECONDS = 120
        item_id = "f" * 24
        running_job(designer, item_id)
        api.get(re.compile(rf"{API}/generation/generationTypes\?.*"), json=STYLES)
        api.get(PENDING_LISTING, json=listing())
        api.get(f"{API}/user/generation-history/{item_id}", status=404, json={"detail": "Not found"})
        sync_tick()
        assert Job.objects.filter(history_item_id=item_id).exists()  # within its grace
        Job.objects.update(missing_since=timezone.now() - timedelta(seconds=121))
        sync_tick()
        assert not Job.objects.filter(history_item_id=item_id).exists()
        assert not IndexedResult.objects.filter(history_item_id=item_id).exists()
        assert "No jobs yet" in client.get(reverse("tray"), headers=HTMX).content.decode()


def detail_reads(api) -> int:
    return len([c for c in api.calls if re.search(r"/generation-history/[^?]+$", c.request.url)])


def listings(api, status: str = "pending") -> int:
    return len(
        [c for c in api.calls if "/generation-history?" in c.request.url and f"status={status}" in c.request.url]
    )


@pytest.mark.django_db
class TestPollsCostTheUpstreamNothingWhateverTheyAskAbout:
    """Polls read the index: ids invented by a browser reach no upstream call (they were
    bounded reads a tick when polls asked the upstream)."""

    def test_a_poll_naming_a_hundred_invented_ids_makes_no_upstream_call(self, client, designer, api):
        invented = [f"{n:024x}" for n in range(100)]
        response = client.get(reverse("history_poll") + "?ids=" + ",".join(invented), headers=HTMX)
        assert response.status_code == 286  # none of them runs: polling stops
        assert len(api.calls) == 0

    def test_an_invented_id_opened_costs_one_read_then_none_for_a_while(self, client, designer, api):
        invented = "0" * 24
        api.get(re.compile(rf"{API}/user/generation-history/[0-9a-f]{{24}}"), status=404, json={"detail": "Not found"})
        assert client.get(reverse("history_item", args=[invented])).status_code == 404
        assert detail_reads(api) == 1  # a result the sync has not reached yet is read once
        assert client.get(reverse("history_item", args=[invented])).status_code == 404
        assert client.get(reverse("result_image", args=[invented, "preview"])).status_code == 404
        assert detail_reads(api) == 1  # not-found answers are remembered for a moment
        assert not IndexedResult.objects.exists()


def pending_item(number: int) -> dict:
    return item(f"{number:024x}", "pending", preview_url=None, stock_url=None)


class RunningUpstream:
    """A pending listing served page by page (100 a page), and detail reads."""

    def __init__(self, api: responses.RequestsMock, items: list[dict]):
        self.items = items
        api.get(re.compile(rf"{API}/generation/generationTypes\?.*"), json=STYLES)
        api.add_callback(responses.GET, LISTING, callback=self.listing)
        api.add_callback(responses.GET, re.compile(rf"{API}/user/generation-history/[0-9a-f]+$"), callback=self.one)

    def listing(self, request):
        query = dict(pair.split("=") for pair in request.url.split("?", 1)[1].split("&"))
        page, limit = int(query.get("page", 1)), int(query.get("limit", 20))
        shown = [entry for entry in self.items if "status" not in query or entry["status"] == query["status"]]
        body = {
            "page": page,
            "pages": max(1, -(-len(shown) // limit)),
            "total_count": len(shown),
            "items": shown[(page - 1) * limit : page * limit],
        }
        return 200, {}, json.dumps(body)

    def one(self, request):
        found = next((entry for entry in self.items if entry["id"] == request.url.rsplit("/", 1)[1]), None)
        return (200, {}, json.dumps(found)) if found else (404, {}, '{"detail": "Not found"}')


@pytest.mark.django_db
class TestTheSyncStaysCheapWhateverRunsAndWhoeverPolls:
    """What the shared snapshot of running jobs once bounded is the sync's duty now."""

    def test_many_running_results_cost_one_listing_call_a_page_and_no_read(self, designer, api):
        upstream = RunningUpstream(api, [pending_item(n) for n in range(150)])
        indexed(*upstream.items)
        sync_tick()
        assert listings(api) == 2  # 150 running: two pages of 100, whatever the pollers
        assert detail_reads(api) == 0

    def test_results_that_left_the_listing_are_read_a_few_a_tick(self, designer, api):
        upstream = RunningUpstream(api, [pending_item(n) for n in range(25)])
        indexed(*upstream.items)
        for entry in upstream.items:
            entry.update(status="complete", preview_url="/image/p.png", stock_url="/image/s.png")
        sync_tick()
        assert detail_reads(api) == sync.DETAIL_READS_PER_TICK  # the rest on the next ticks
        sync_tick()
        sync_tick()
        assert detail_reads(api) == 25
        assert not IndexedResult.objects.filter(status="pending").exists()


@pytest.mark.django_db(transaction=True)
def test_many_pollers_arriving_together_make_no_upstream_call(api, ada, bob, teammate):
    """Trays and gallery polls of several designers at once: the index answers them all.
    (Threads: each has its own database connection, hence committed rows.)"""
    designers = [ada, bob, teammate]
    for number, someone in enumerate(designers):
        running_job(someone, f"{number:024x}")
    started = threading.Barrier(6)
    answers: list[int] = []

    def poller(someone, url: str) -> None:
        browser = Client()
        browser.force_login(someone)
        started.wait()
        answers.append(browser.get(url, headers=HTMX).status_code)

    threads = [
        threading.Thread(target=poller, args=(someone, url))
        for someone in designers
        for url in (reverse("tray"), reverse("history_poll") + "?ids=" + ",".join(f"{n:024x}" for n in range(3)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 200, 200, 204, 204, 204]  # trays drawn; polls: nothing new
    assert len(api.calls) == 0
