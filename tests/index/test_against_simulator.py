"""The index against the real simulator seeded with 10,000 results, and the real sync
process (`manage.py sync_index`) run as a deployment runs it.

- every gallery filter, and combinations of them, show exactly what the upstream holds,
  with exact totals (counted here from the simulator's own database, independently);
- a first sync killed with SIGKILL resumes where it stopped, and one that meets the
  upstream stopped midway loses nothing;
- a second sync process stands by while the first holds the lease, calling the upstream not at all;
- a result deleted and one re-liked directly on the upstream are noticed within a sweep.

The sync processes work on a database file of their own (migrated once per module, then
copied for each test), read here with sqlite3: they are separate processes, as in
production, and never see the test's transaction.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from dashboard.index import sync
from tests.support.simulator import PROJECT_ROOT, SimulatorProcess, end_process, read_output
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration]

SEEDED = 10_000
PAGES = SEEDED // sync.PAGE_SIZE


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Iterator[SimulatorProcess]:
    """A simulator holding 10,000 results (a few of them running), its jobs kept running
    for the module (so the count stays put)."""
    process = SimulatorProcess(tmp_path_factory.mktemp("history-10k"), env={"SIMULATOR_JOB_SECONDS": "3600"})
    process.seed(SEEDED)
    hold_the_seeded_jobs_running(process)
    with process:
        yield process


def hold_the_seeded_jobs_running(history: SimulatorProcess) -> None:
    """The seed makes its running jobs due 10 to 40 s later (SIMULATOR_JOB_SECONDS is for
    new jobs): an hour later, like new ones, so no status changes under the tests. One
    finishing after the module's catch-up made the filter test see 5,054 unrated results
    in the index and 5,055 upstream (in the full run, where the catch-up is slower)."""
    with sqlite3.connect(history.data_dir / "simulator.sqlite3") as db:
        held = db.execute("UPDATE history SET due_at = due_at + 3600 WHERE status = 'pending'").rowcount
    assert held > 0, "the seed made no running job: the module no longer has any to follow"


def upstream_rows(history: SimulatorProcess) -> list[sqlite3.Row]:
    """The simulator's own records, read from its database: the truth to compare with."""
    with sqlite3.connect(history.data_dir / "simulator.sqlite3") as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT id, tool, generation_type_id, status, created_at, liked FROM history").fetchall()


# --- Every filter, on the test's own database --------------------------------------------


@pytest.fixture(scope="module")
def indexed_history(history, django_db_setup, django_db_blocker) -> Iterator[SimulatorProcess]:
    """The whole history read once into the test database for the module (the sync's
    catch-up); the rows stay for the module's tests and are removed after it."""
    from django.test import override_settings

    from dashboard.models import IndexedResult, SyncState

    with override_settings(GENAPI_BASE_URL=history.base_url, GENAPI_API_KEY=history.api_key):
        with django_db_blocker.unblock():
            sync.catch_up()
            yield history
            IndexedResult.objects.all().delete()
            SyncState.objects.all().delete()


def made_on(row: sqlite3.Row) -> datetime:
    return datetime.fromtimestamp(int(row["created_at"]), tz=UTC)


@pytest.mark.django_db
def test_every_filter_and_combination_shows_exactly_what_the_upstream_holds(
    indexed_history, client, django_user_model, settings
):
    settings.GENAPI_BASE_URL, settings.GENAPI_API_KEY = indexed_history.base_url, indexed_history.api_key
    client.force_login(django_user_model.objects.create_user(username="ada"))
    rows = upstream_rows(indexed_history)
    today = timezone.localdate()
    week_ago = timezone.now().replace(second=0, microsecond=0) - timedelta(days=7)  # set again before each request
    styles = sorted({row["generation_type_id"] for row in rows if row["generation_type_id"]})
    start, end = today - timedelta(days=25), today - timedelta(days=20)

    def on_day(row, low, high) -> bool:
        day = timezone.localtime(made_on(row)).date()
        return low <= day <= high

    liked = {None: "unrated", 1: "liked", 0: "disliked"}
    cases = {
        "": lambda row: True,
        "status=error": lambda row: row["status"] == "error",
        "status=complete&status=pending": lambda row: row["status"] in ("complete", "pending"),
        "tool=furniture": lambda row: row["tool"] == "furniture",
        f"style={styles[0]}": lambda row: row["generation_type_id"] == styles[0],
        "when=7d": lambda row: made_on(row) >= week_ago,  # noqa: B023 (the cutoff of the request's moment)
        f"when=custom&from={start}&to={end}": lambda row: on_day(row, start, end),
        "rating=liked": lambda row: row["status"] == "complete" and liked[row["liked"]] == "liked",
        "rating=unrated": lambda row: row["status"] == "complete" and liked[row["liked"]] == "unrated",
        f"tool=fashion_swap&rating=disliked&when=custom&from={today - timedelta(days=30)}&to={today}": lambda row: (
            row["tool"] == "fashion_swap"
            and row["status"] == "complete"
            and liked[row["liked"]] == "disliked"
            and on_day(row, today - timedelta(days=30), today)
        ),
        "status=error&tool=fabric": lambda row: row["status"] == "error" and row["tool"] == "fabric",
    }
    calls_before = len(indexed_history.requests())
    for query, wanted in cases.items():
        # "Last 7 days" starts at the start of the minute, seven days ago.
        week_ago = timezone.now().replace(second=0, microsecond=0) - timedelta(days=7)
        expected = [row["id"] for row in newest_first(row for row in rows if wanted(row))]
        page = client.get(f"{reverse('history')}?{query}&limit=100").context["gallery"]
        assert page.total_count == len(expected), query
        assert page.pages == -(-len(expected) // 100), query
        assert [card.item.id for card in page.cards] == expected[:100], query
        if page.pages > 2:  # a deep page too, also exact
            deep = client.get(f"{reverse('history')}?{query}&limit=100&page={page.pages - 1}").context["gallery"]
            first = (page.pages - 2) * 100
            assert [card.item.id for card in deep.cards] == expected[first : first + 100], query
    assert len(indexed_history.requests()) == calls_before, "a gallery view asked the upstream"


def newest_first(rows) -> list[sqlite3.Row]:
    """The API's order: by the second it shows (its times have no finer grain), then
    results of one second by id, highest first."""
    return sorted(rows, key=lambda row: (int(row["created_at"]), row["id"]), reverse=True)


@pytest.mark.django_db
def test_results_made_in_the_same_second_are_listed_as_the_upstream_lists_them(indexed_history):
    """The index used to break a tie of two results made in one second by the order the
    sync happened to store them: the gallery then showed such a pair the other way round
    from the upstream."""
    from dashboard.gallery.history import Filters, matching

    listed, page = [], 1
    while True:
        body = requests.get(
            f"{indexed_history.base_url}/user/generation-history",
            params={"page": page, "limit": 100},
            headers=indexed_history.headers,
            timeout=30,
        ).json()
        listed += [item["id"] for item in body["items"]]
        if page >= body["pages"]:
            break
        page += 1
    seconds = [int(row["created_at"]) for row in upstream_rows(indexed_history)]
    assert len(set(seconds)) < len(seconds), "no two results share a second: the test shows nothing"
    assert list(matching(Filters(), None).values_list("history_item_id", flat=True)) == listed


# --- The sync process as a deployment runs it ----------------------------------------------


@pytest.fixture(scope="module")
def empty_database(tmp_path_factory) -> Path:
    """A database file with every migration applied, copied for each test."""
    path = tmp_path_factory.mktemp("sync-db") / "empty.sqlite3"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=PROJECT_ROOT,
        env={**process_env(path, "http://127.0.0.1:9", "unused")},
        check=True,
        timeout=120,
    )
    return path


def process_env(database: Path, base_url: str, api_key: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "DEBUG": "false",
        "HTTPS": "false",
        "SECRET_KEY": "tests-only-sync-secret-key-not-for-production",
        "GENAPI_BASE_URL": base_url,
        "GENAPI_API_KEY": api_key,
        "GENAPI_READ_RETRIES": "0",
        # Paced fast: a test waits seconds, not minutes; the budget is not under test here.
        "SYNC_RUNNING_SECONDS": "0.5",
        "SYNC_FOLLOW_SECONDS": "0.5",
        "SYNC_SWEEP_PAGE_SECONDS": "0.05",
        "SYNC_IDLE_SECONDS": "0.02",
        "SYNC_LEASE_SECONDS": "3",
        "SYNC_STANDBY_SECONDS": "0.2",
        "SYNC_CALLS_PER_MINUTE": "100000",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class SyncProcess(subprocess.Popen):
    """A `manage.py sync_index` of the tests', its output (its log) kept in a file."""

    log: IO[bytes]

    def upstream_calls(self) -> int:
        """The upstream calls it made so far, as its own log lists them (one line each)."""
        # In JSON lines or text lines alike: "message": "genapi GET /..." or "... genapi GET /...".
        return len(re.findall(r"\bgenapi [A-Z]+ /", read_output(self.log)))

    def holder(self) -> str:
        """The name it holds (or asks for) the sync's lease by, from its "started" line."""
        found = re.search(r"sync (\S+) started", read_output(self.log))
        assert found, "the sync process never said it started"
        return found.group(1)


@contextmanager
def sync_process(database: Path, history: SimulatorProcess, **extra: str) -> Iterator[SyncProcess]:
    output = (database.parent / f"sync-{time.monotonic_ns()}.log").open("w+b")
    process = SyncProcess(
        [sys.executable, "manage.py", "sync_index"],
        cwd=PROJECT_ROOT,
        env=process_env(database, history.base_url, history.api_key, **extra),
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    process.log = output
    try:
        yield process
    finally:
        end_process(process, output)


def state(database: Path) -> dict:
    with sqlite3.connect(database, timeout=10) as db:
        db.row_factory = sqlite3.Row
        found = db.execute("SELECT * FROM dashboard_syncstate WHERE name = 'history'").fetchone()
        indexed = db.execute("SELECT COUNT(*) FROM dashboard_indexedresult").fetchone()[0]
    return {**(dict(found) if found else {}), "indexed": indexed}


def listing_pages(requests_seen: list[dict]) -> list[int]:
    """The page numbers of full-listing reads (not the running listing's) in the log."""
    pages = []
    for entry in requests_seen:
        if entry["path"] == "/user/generation-history" and "status=" not in entry["query"]:
            query = dict(pair.split("=") for pair in entry["query"].split("&") if "=" in pair)
            pages.append(int(query.get("page", 1)))
    return pages


def copy_of(database: Path, tmp_path: Path) -> Path:
    target = tmp_path / "sync.sqlite3"
    shutil.copy(database, target)
    return target


def test_a_first_sync_killed_midway_resumes_where_it_stopped_and_an_upstream_outage_loses_nothing(
    history, empty_database, tmp_path
):
    database = copy_of(empty_database, tmp_path)
    history.clear_requests()
    with sync_process(database, history) as first:
        wait_until(lambda: (state(database).get("first_sync_page") or 0) >= 30, timeout=120, message="30 pages read")
        first.kill()  # SIGKILL: no clean shutdown, the lease is left behind
        first.wait()
    stopped_at = state(database)["first_sync_page"]
    indexed_then = state(database)["indexed"]
    assert 30 <= stopped_at < PAGES and indexed_then >= (stopped_at - 1) * sync.PAGE_SIZE
    history.clear_requests()

    with sync_process(database, history) as second:
        # Its lease taken over once the dead one's ran out; then on from the saved page.
        wait_until(
            lambda: (state(database).get("first_sync_page") or 0) >= stopped_at + 10,
            timeout=120,
            message=lambda: f"the resumed sync stayed at page {state(database).get('first_sync_page')}",
        )
        before_outage = history.requests()  # the simulator's log starts again with it
        history.stop()  # the upstream goes away midway
        wait_until(lambda: state(database)["problem"], timeout=30, message="the sync saying the upstream is away")
        assert state(database)["indexed"] >= indexed_then, "rows were lost while the upstream was away"
        history.start()
        wait_until(lambda: state(database).get("first_sync_done"), timeout=180, message="the first sync done")
        assert second.poll() is None, "the sync process outlived the outage"
    read = listing_pages(before_outage) + listing_pages(history.requests())
    first_sync_reads = read[: read.index(PAGES) + 1]  # what came after the last page is the sweep's
    # Follow reads the newest pages while they change: those apart,
    # the resumed sync read none of the pages the first had done.
    pages_read_again = [page for page in first_sync_reads if sync.FOLLOW_PAGES_PER_TICK < page < stopped_at]
    assert pages_read_again == [], "the resumed sync read again pages the first had done"
    final = state(database)
    assert final["indexed"] == SEEDED, "a result was lost"
    assert final["upstream_total"] == SEEDED


@pytest.fixture(scope="module")
def synced_database(history, empty_database) -> Path:
    """The whole history read once by `sync_index --once` into a database of its own."""
    path = empty_database.parent / "synced.sqlite3"
    shutil.copy(empty_database, path)
    subprocess.run(
        [sys.executable, "manage.py", "sync_index", "--once"],
        cwd=PROJECT_ROOT,
        env=process_env(path, history.base_url, history.api_key),
        check=True,
        capture_output=True,
        timeout=600,
    )
    return path


def test_a_second_sync_process_waits_for_the_lease_and_calls_the_upstream_not_at_all(
    history, synced_database, tmp_path
):
    """Two instances deployed at once: the one without the lease stands by.

    Counted per process from its own log, not as a rate of the simulator's log (a paced
    sync's calls per window vary with the machine's load: 84 and 110 in two 6 s windows
    of one process alone at load 12)."""
    database = copy_of(synced_database, tmp_path)
    # A lease longer than the tests' 3 s: on a machine loaded to 12, one tick of the holder
    # (its SQLite writes queued behind the other's tries for the lease) outlasted 3 s.
    lease = {"SYNC_LEASE_SECONDS": "15"}
    with sync_process(database, history, **lease) as first:
        wait_until(lambda: state(database).get("holder"), timeout=30, message="the lease taken")
        assert state(database)["holder"] == first.holder()
        with sync_process(database, history, **lease) as other:
            wait_until(lambda: "started" in read_output(other.log), timeout=30, message="the second sync started")
            first_calls_before = first.upstream_calls()
            time.sleep(6)
            assert other.poll() is None, "the second process waits; it does not give up"
            assert state(database)["holder"] == first.holder(), "the lease changed hands"
            assert other.upstream_calls() == 0, read_output(other.log)
            assert first.upstream_calls() > first_calls_before, "the holder made no call: nothing was shown"


def test_a_result_deleted_and_one_reliked_on_the_upstream_are_noticed_within_a_sweep(
    history, synced_database, tmp_path
):
    database = copy_of(synced_database, tmp_path)
    with sqlite3.connect(database) as db:
        old = db.execute(
            "SELECT history_item_id FROM dashboard_indexedresult WHERE status = 'complete' AND like IS NULL"
            " ORDER BY sort_at LIMIT 2"
        ).fetchall()
    deleted, reliked = old[0][0], old[1][0]
    assert requests.delete(f"{history.base_url}/user/generation-history/{deleted}", headers=history.headers).ok
    assert requests.patch(
        f"{history.base_url}/user/generation-history/feedback/{reliked}", json={"like": True}, headers=history.headers
    ).ok
    sweep_period = PAGES * 0.05  # pages × SYNC_SWEEP_PAGE_SECONDS, without the reading itself
    started = time.monotonic()

    def noticed() -> bool:
        with sqlite3.connect(database, timeout=10) as db:
            gone = not db.execute(
                "SELECT 1 FROM dashboard_indexedresult WHERE history_item_id = ?", (deleted,)
            ).fetchone()
            like = db.execute(
                "SELECT like FROM dashboard_indexedresult WHERE history_item_id = ?", (reliked,)
            ).fetchone()
        return gone and like == (1,)

    with sync_process(database, history):
        # The oldest results are the sweep's last pages: at most one sweep after this one.
        wait_until(noticed, timeout=180, message="the deletion and the new like in the index")
    took = time.monotonic() - started
    last_sweep = state(database)["last_sweep_finished_at"]
    assert last_sweep, "noticed by the sweep"
    assert took < 2 * (sweep_period + 60), f"noticed after {took:.0f} s"
