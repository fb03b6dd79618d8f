"""The sync process's duties with the upstream stubbed by `responses`: the first sync
(resumable), follow, the running results, the sweep, the lease and the budget."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import responses
from django.utils import timezone

from dashboard import genapi
from dashboard.index import services as index
from dashboard.index import sync
from dashboard.models import IndexedResult, Job, SyncState

API = "http://genapi.test"
LISTING = re.compile(rf"{API}/user/generation-history\?.*")
TOOLS = [{"group_tool": "fashion", "tool": "fashion_swap", "title": "Fashion Swap"}]
pytestmark = pytest.mark.django_db


def item(number: int, status: str = "complete", *, like=None, minutes_ago: int | None = None) -> dict:
    made = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=number)
    if minutes_ago is not None:
        made = timezone.now() - timedelta(minutes=minutes_ago)
    return {
        "id": f"{number:024x}",
        "status": status,
        "generation_type": "fashion_swap",
        "created_at": made.isoformat().replace("+00:00", "Z"),
        "preview_url": f"/image/{number}.webp" if status == "complete" else None,
        "stock_url": f"/image/{number}.png" if status == "complete" else None,
        "like": like,
    }


class Upstream:
    """A history of items, newest first, served page by page like the real listing."""

    def __init__(self, api: responses.RequestsMock, items: list[dict], tools: list[dict] = TOOLS):
        self.items = items
        self.api = api
        api.get(f"{API}/generation/tools", json=tools)
        api.get(re.compile(rf"{API}/generation/generationTypes.*"), json=[])
        api.add_callback(responses.GET, LISTING, callback=self.listing)
        api.add_callback(responses.GET, re.compile(rf"{API}/user/generation-history/[0-9a-f]+$"), callback=self.one)

    def newest_first(self) -> list[dict]:
        return sorted(self.items, key=lambda entry: entry["created_at"], reverse=True)

    def listing(self, request):
        query = dict(pair.split("=") for pair in request.url.split("?", 1)[1].split("&"))
        page, limit = int(query.get("page", 1)), int(query.get("limit", 20))
        shown = [entry for entry in self.newest_first() if "status" not in query or entry["status"] == query["status"]]
        pages = max(1, -(-len(shown) // limit))
        body = {
            "page": page,
            "pages": pages,
            "total_count": len(shown),
            "items": shown[(page - 1) * limit : page * limit],
        }
        return 200, {}, json.dumps(body)

    def one(self, request):
        item_id = request.url.rsplit("/", 1)[1]
        found = next((entry for entry in self.items if entry["id"] == item_id), None)
        if found is None:
            return 404, {}, '{"detail": "Not found"}'
        return 200, {}, json.dumps(found)

    def calls(self, kind: str = "") -> int:
        return sum(1 for call in self.api.calls if kind in call.request.url)


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def syncer() -> sync.Syncer:
    return sync.Syncer(budget=sync.Budget(10_000))


class TestTheFirstSync:
    def test_it_reads_the_whole_history_a_few_pages_a_tick_and_resumes_where_it_stopped(self, api):
        upstream = Upstream(api, [item(n) for n in range(1, 1251)])  # 13 pages of 100
        first = syncer()
        first.first_sync(first.catalogue())  # one tick: FIRST_SYNC_PAGES_PER_TICK pages
        assert IndexedResult.objects.count() == 500
        assert sync.state().first_sync_page == 6 and not sync.state().first_sync_done
        # The process dies here; a new one starts where the first stopped, never at page 1.
        listings_before = upstream.calls("generation-history?")
        again = syncer()
        while not sync.state().first_sync_done:
            again.first_sync(again.catalogue())
        assert upstream.calls("generation-history?") - listings_before == 8  # pages 6 to 13
        assert IndexedResult.objects.count() == 1250
        assert sync.state().upstream_total == 1250

    def test_the_newest_results_come_first(self, api):
        Upstream(api, [item(n) for n in range(1, 301)])
        first = syncer()
        first.first_sync(first.catalogue())
        newest = IndexedResult.objects.order_by("-sort_at").first()
        assert newest.history_item_id == f"{300:024x}"


class TestFollowing:
    def test_new_results_are_read_until_a_page_shows_nothing_new(self, api):
        upstream = Upstream(api, [item(n) for n in range(1, 501)])
        sync.catch_up()
        upstream.items += [item(n) for n in range(501, 531)]  # 30 new ones: on page 1 only
        before = upstream.calls("generation-history?")
        worker = syncer()
        worker.follow(worker.catalogue())
        assert upstream.calls("generation-history?") - before == 2  # page 1 (new), page 2 (known)
        assert IndexedResult.objects.count() == 530

    def test_a_result_rated_elsewhere_is_seen_by_follow_when_on_its_pages(self, api):
        upstream = Upstream(api, [item(n) for n in range(1, 11)])
        sync.catch_up()
        upstream.items[-1]["like"] = True
        worker = syncer()
        worker.follow(worker.catalogue())
        row = IndexedResult.objects.get(history_item_id=upstream.items[-1]["id"])
        assert row.like is True and row.rating == "liked"


class TestRunningResults:
    def test_one_listing_a_tick_whatever_the_number_running_and_one_read_for_each_that_left(self, api):
        upstream = Upstream(api, [item(n, "pending") for n in range(1, 41)])
        sync.catch_up()
        assert IndexedResult.objects.filter(status="pending").count() == 40
        upstream.items[0]["status"] = "complete"
        upstream.items[1]["status"] = "error"
        before_lists, before_reads = upstream.calls("generation-history?"), upstream.calls("generation-history/")
        worker = syncer()
        worker.running(worker.catalogue())
        assert upstream.calls("generation-history?") - before_lists == 1
        assert upstream.calls("generation-history/") - before_reads == 2
        assert IndexedResult.objects.filter(status="pending").count() == 38
        assert IndexedResult.objects.get(history_item_id=upstream.items[1]["id"]).status == "error"

    def test_nothing_running_costs_nothing(self, api):
        upstream = Upstream(api, [item(n) for n in range(1, 11)])
        sync.catch_up()
        before = len(api.calls)
        worker = syncer()
        worker.running(worker.catalogue())
        assert len(api.calls) == before
        assert upstream.calls() == before

    def test_a_job_made_here_takes_its_place_by_the_upstream_s_time_once_the_upstream_lists_it(self, api):
        # Shown at once by our clock (to the microsecond, and perhaps a little off), the
        # job then sits where the upstream lists it: among the results of its second, by id.
        second = (timezone.now() - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        upstream = Upstream(api, [{**item(n), "created_at": second} for n in (4, 6)])
        sync.catch_up()
        made = {**item(5, "pending"), "created_at": second}
        job = Job.objects.create(history_item_id=made["id"], tool="fashion_swap")
        index.record_created(job)
        assert IndexedResult.objects.first().history_item_id == made["id"]  # our clock: the newest
        upstream.items.append(made)
        worker = syncer()
        worker.running(worker.catalogue())
        assert list(IndexedResult.objects.values_list("history_item_id", flat=True)) == [
            entry["id"] for entry in sorted(upstream.items, key=lambda entry: entry["id"], reverse=True)
        ]

    def test_a_job_made_here_keeps_its_record_for_the_grace_when_the_upstream_loses_it(
        self, api, django_user_model, settings
    ):
        upstream = Upstream(api, [item(1, "pending")])
        job = Job.objects.create(history_item_id=upstream.items[0]["id"], tool="fashion_swap")
        sync.catch_up()
        upstream.items.clear()  # the upstream no longer knows it: a lagging replica, or deleted
        worker = syncer()
        worker.running(worker.catalogue())
        assert Job.objects.filter(pk=job.pk).exists() and IndexedResult.objects.exists()
        settings.MISSING_JOB_GRACE_SECONDS = 0
        from tests.conftest import clear_caches

        clear_caches()  # the upstream's "not found" is remembered for a moment
        worker.running(worker.catalogue())
        assert not Job.objects.exists() and not IndexedResult.objects.exists()


class TestTheSweep:
    def test_a_result_deleted_and_one_rated_elsewhere_are_noticed_within_one_sweep(self, api):
        upstream = Upstream(api, [item(n) for n in range(1, 351)])  # 4 pages
        sync.catch_up()
        deleted = upstream.items.pop(100)["id"]
        upstream.items[200]["like"] = False
        rerated = upstream.items[200]["id"]
        worker = syncer()
        known = worker.catalogue()
        for _ in range(4):
            worker.sweep_page(known)
        assert sync.state().sweep_page == 1 and sync.state().last_sweep_finished_at is not None
        assert not IndexedResult.objects.filter(history_item_id=deleted).exists()
        assert IndexedResult.objects.get(history_item_id=rerated).rating == "disliked"
        assert IndexedResult.objects.count() == 349

    def test_one_sweep_costs_a_listing_a_page_and_a_read_only_for_what_went_missing(self, api):
        upstream = Upstream(api, [item(n) for n in range(1, 351)])
        sync.catch_up()
        upstream.items.pop(7)
        before_lists, before_reads = upstream.calls("generation-history?"), upstream.calls("generation-history/")
        worker = syncer()
        known = worker.catalogue()
        for _ in range(4):
            worker.sweep_page(known)
        assert upstream.calls("generation-history?") - before_lists == 4
        assert upstream.calls("generation-history/") - before_reads == 1


class TestTheLease:
    def test_a_second_process_waits_until_the_first_gives_it_back_or_its_lease_runs_out(self, settings):
        assert sync.take_lease("machine-a")
        assert not sync.take_lease("machine-b")
        assert sync.take_lease("machine-a")  # renewed by its holder
        SyncState.objects.filter(name="history").update(lease_until=timezone.now() - timedelta(seconds=1))
        assert sync.take_lease("machine-b")  # a: dead, its lease ran out
        sync.give_back_lease("machine-b")
        assert sync.take_lease("machine-a")


class TestTheBudget:
    def test_no_more_calls_a_minute_than_allowed_and_none_during_a_retry_after(self):
        budget = sync.Budget(3)
        for _ in range(3):
            assert budget.left() > 0
            budget.spend()
        assert budget.left() == 0
        fresh = sync.Budget(10)
        fresh.hold(60)
        assert fresh.left() == 0

    def test_a_syncer_out_of_budget_calls_nothing(self, api):
        upstream = Upstream(api, [item(n) for n in range(1, 11)])
        worker = sync.Syncer(budget=sync.Budget(1))
        worker.listing(1)
        with pytest.raises(sync.OutOfBudget):
            worker.listing(1)
        assert upstream.calls("generation-history?") == 1


class TestARatingMadeWhileTheSyncReads:
    """The sync lists the history all the time; a designer's rating stored upstream while
    one of its listings was on its way must not be undone by that listing's older answer.
    Found by the browser review walk: now and then a like pressed showed as not taken."""

    @pytest.fixture
    def rated(self, api):
        upstream = Upstream(api, [item(n) for n in range(1, 11)])
        sync.catch_up()  # all ten indexed, unrated

        def store(request):
            item_id = request.url.rsplit("/", 1)[1]
            next(entry for entry in upstream.items if entry["id"] == item_id)["like"] = json.loads(request.body)["like"]
            return 200, {}, json.dumps({"id": item_id, "like": json.loads(request.body)["like"]})

        api.add_callback(responses.PATCH, re.compile(rf"{API}/user/generation-history/feedback/.*"), callback=store)
        return upstream

    def test_a_listing_asked_before_a_like_and_recorded_after_it_leaves_the_like(self, rated, api, designer):
        from dashboard.reviews import services as reviews

        chosen = rated.items[3]["id"]
        answer_as_asked = rated.listing

        def liked_meanwhile(request):
            answer = answer_as_asked(request)  # the upstream as it stood when the sync asked
            reviews.rate(designer, chosen, True)  # stored, confirmed and recorded before the sync records that answer
            return answer

        api.remove(responses.GET, LISTING)
        api.add_callback(responses.GET, LISTING, callback=liked_meanwhile)
        worker = syncer()
        worker.follow(worker.catalogue())
        assert IndexedResult.objects.get(history_item_id=chosen).rating == "liked"
        assert reviews.shown_now(chosen) is True

    def test_a_like_is_recorded_as_the_upstream_stores_it_not_as_an_older_listing_left_it_in_the_cache(
        self, rated, designer, monkeypatch
    ):
        from dashboard.genapi import cached
        from dashboard.reviews import services as reviews

        chosen = rated.items[3]["id"]
        as_listed_before = genapi.history(page=1, limit=100).items  # the sync's listing, asked before the like...
        forget = cached._forget

        def forgotten_then_remembered_by_the_sync(item_id):
            forget(item_id)
            cached._remember(as_listed_before)  # ...its answer remembered just after the like forgot the item

        monkeypatch.setattr(cached, "_forget", forgotten_then_remembered_by_the_sync)
        assert reviews.press(designer, chosen, "true").like is True
        assert IndexedResult.objects.get(history_item_id=chosen).like is True


def test_recording_a_page_costs_a_few_queries_not_one_a_result(api, django_assert_max_num_queries):
    """A page of 100 results costs the same few queries whatever the jobs made here: the
    sync records one page every few seconds for ever (a query a result made a catch-up of
    10,000 results cost 20,000 queries)."""
    Upstream(api, [item(n) for n in range(1, 101)])
    made_here = Job.objects.create(history_item_id=item(5)["id"], tool="fashion_swap")  # running, as far as we know
    worker = syncer()
    known = worker.catalogue()
    listing = genapi.history(page=1, limit=100)
    with django_assert_max_num_queries(20):
        worker.seen(listing.items, known, timezone.now())
    assert IndexedResult.objects.count() == 100
    made_here.refresh_from_db()
    assert made_here.status == Job.Status.COMPLETE and made_here.finished_at is not None


def test_a_statuses_word_from_the_upstream_that_is_unknown_reads_as_running(api):
    Upstream(api, [{**item(1), "status": "QUEUED"}])
    sync.catch_up()
    assert IndexedResult.objects.get().status == genapi.Status.PENDING


def test_a_catalogue_refresh_waits_for_room_in_the_budget_and_never_starves_the_first_sync(api, monkeypatch):
    """The refresh needs a call for the tools and one a tool for styles. Started whenever a
    call of the budget was free, it spent what was free and ran out, again and again: the
    first sync of a large history stopped for good once the catalogue was due."""
    nine = [{"group_tool": "fashion", "tool": f"tool_{n}", "title": f"Tool {n}"} for n in range(9)]
    Upstream(api, [item(n) for n in range(1, 12001)], tools=nine)
    clock = {"now": 1000.0}
    monkeypatch.setattr(sync.time, "monotonic", lambda: clock["now"])
    worker = sync.Syncer(budget=sync.Budget(20))
    for _ in range(2 * 60 * 20):  # twenty minutes of the process's loop, a tick every half second
        try:
            worker.tick()
        except sync.OutOfBudget:
            pass
        clock["now"] += 0.5
    assert sync.state().first_sync_done, f"stopped at page {sync.state().first_sync_page}"
    assert IndexedResult.objects.count() == 12000


def test_the_first_sync_leaves_sqlite_statistics_for_its_planner(api):
    """Without them SQLite walked the gallery's whole index for a run's few results."""
    from django.db import connection

    Upstream(api, [item(n) for n in range(1, 21)])
    sync.catch_up()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'dashboard_indexedresult'")
        assert cursor.fetchone()[0] > 0


def test_the_sweep_asks_the_upstream_itself_not_the_cache_of_what_a_listing_showed(api):
    """Listings leave finished results in the shared cache for GENAPI_ITEM_CACHE_SECONDS;
    a sweep that read those copies took a result deleted elsewhere for present."""
    upstream = Upstream(api, [item(n) for n in range(1, 251)])  # 3 pages
    sync.catch_up()
    deleted = upstream.items[120]["id"]
    genapi.item(deleted)  # a page opened it: its copy is cached
    upstream.items.pop(120)  # then it is deleted through the API directly
    worker = syncer()
    known = worker.catalogue()
    for _ in range(3):
        worker.sweep_page(known)
    assert not IndexedResult.objects.filter(history_item_id=deleted).exists()
