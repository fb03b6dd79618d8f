"""The sync process (`manage.py sync_index`, the Procfile's `sync`): it keeps the index of
the team's history current, and it is the deployment's only upstream status poller.

Four duties, each paced, all within SYNC_CALLS_PER_MINUTE upstream calls:

- running: one listing of the results still running, every SYNC_RUNNING_SECONDS while
  the index holds any, and every SYNC_RUNNING_FAST_SECONDS inside the window around a
  running result's expected end (dashboard/index/pace.py), those earlier listings at
  most SYNC_RUNNING_FAST_CALLS_PER_MINUTE calls a minute; those that left it get one
  detail read each (a few a tick);
- follow: the newest listing pages every SYNC_FOLLOW_SECONDS, until a page shows nothing
  new or changed;
- the first sync: the whole listing, a few pages a tick, its place saved after each
  page (it resumes after a crash); the gallery is usable meanwhile, newest first;
- the sweep: the whole listing again, one page every SYNC_SWEEP_PAGE_SECONDS, to notice
  results deleted or re-rated outside the dashboard. A row of the page's time window
  that the page does not show is read on its own; gone, it is forgotten by the one rule
  (jobs.not_found).

Only the process holding the lease (SyncState.holder) calls the upstream, so a second
sync process, on this machine or another, waits and costs nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.db.models import Q
from django.utils import timezone

from dashboard import genapi
from dashboard.core.catalogue import Catalogue
from dashboard.index import pace
from dashboard.index import services as index
from dashboard.jobs import services as jobs
from dashboard.models import IndexedResult, SyncState
from dashboard.observability import logs

logger = logging.getLogger("dashboard.sync")

STATE_NAME = "history"
PAGE_SIZE = 100
# Results that left the running listing read in detail per tick; the rest next tick.
DETAIL_READS_PER_TICK = 10
# A sweep reads at most this many rows of a page's window on their own (gone or moved).
SWEEP_READS_PER_PAGE = 5
FIRST_SYNC_PAGES_PER_TICK = 5
FOLLOW_PAGES_PER_TICK = 5
# The shortest rest between two ticks.
MIN_REST_SECONDS = 0.02
CATALOGUE_SECONDS = 300
CATALOGUE_RETRY_SECONDS = 30
# A row made here in the last moments may not be listed yet: the sweep leaves it alone.
JUST_MADE = timedelta(minutes=2)


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def state() -> SyncState:
    found, _ = SyncState.objects.get_or_create(name=STATE_NAME)
    return found


# --- The lease ------------------------------------------------------------------------


def take_lease(holder: str) -> bool:
    """Hold the lease for SYNC_LEASE_SECONDS more (take it if it is free, expired or
    already ours: one conditional UPDATE); whether this process may call the upstream."""
    state()
    now = timezone.now()
    free = Q(holder=holder) | Q(holder="") | Q(lease_until__lt=now) | Q(lease_until__isnull=True)
    taken = SyncState.objects.filter(free, name=STATE_NAME).update(
        holder=holder, lease_until=now + timedelta(seconds=settings.SYNC_LEASE_SECONDS)
    )
    return bool(taken)


def give_back_lease(holder: str) -> None:
    SyncState.objects.filter(name=STATE_NAME, holder=holder).update(holder="", lease_until=None)


# --- The upstream, within a budget ----------------------------------------------------


class Budget:
    """At most SYNC_CALLS_PER_MINUTE upstream calls in any minute (a sliding window), and
    none before a 429's Retry-After has passed."""

    def __init__(self, per_minute: int):
        self.per_minute = max(1, per_minute)
        self.calls: deque[float] = deque()
        self.not_before = 0.0

    def left(self) -> int:
        now = time.monotonic()
        while self.calls and self.calls[0] <= now - 60:
            self.calls.popleft()
        if now < self.not_before:
            return 0
        return self.per_minute - len(self.calls)

    def spend(self) -> None:
        self.calls.append(time.monotonic())

    def hold(self, seconds: float) -> None:
        self.not_before = max(self.not_before, time.monotonic() + seconds)


class OutOfBudget(Exception):
    pass


@dataclass
class RunningPace:
    """When the next listing of the running results is due.

    Every SYNC_RUNNING_SECONDS (times the pages the last listing took, so more than a page
    of running results costs no more calls a minute), and every SYNC_RUNNING_FAST_SECONDS
    inside the window around a running result's expected end, while those earlier
    listings have spent less than SYNC_RUNNING_FAST_CALLS_PER_MINUTE calls in the minute:
    at most 60 / SYNC_RUNNING_SECONDS + SYNC_RUNNING_FAST_CALLS_PER_MINUTE calls a minute
    (120 by default), whatever the number running."""

    early: Budget
    last_at: float = float("-inf")
    pages: int = 1
    # The windows of the results running at the last listing, on the monotonic clock.
    windows: list[tuple[float, float]] = field(default_factory=list)

    @classmethod
    def from_settings(cls) -> RunningPace:
        return cls(early=Budget(settings.SYNC_RUNNING_FAST_CALLS_PER_MINUTE))

    def base_at(self) -> float:
        return self.last_at + settings.SYNC_RUNNING_SECONDS * self.pages

    def next_at(self) -> float:
        base = self.base_at()
        soonest = self.last_at + settings.SYNC_RUNNING_FAST_SECONDS
        if settings.SYNC_RUNNING_FAST_CALLS_PER_MINUTE <= 0 or self.early.left() < self.pages:
            return base
        starts = [max(start, soonest) for start, end in self.windows if end >= soonest]
        return min([base, *starts])

    def listed(self, at: float, pages: int, windows: list[tuple[float, float]]) -> None:
        """A listing was made at `at` (monotonic), taking `pages` calls; `windows` are the
        windows of the results it showed running, in seconds from now."""
        if at < self.base_at():
            for _ in range(pages):
                self.early.spend()
        now = time.monotonic()
        self.last_at, self.pages = at, max(1, pages)
        self.windows = [(now + start, now + end) for start, end in windows]


@dataclass
class Syncer:
    """One sync process's work; `tick()` does whatever is due."""

    budget: Budget
    known: Catalogue | None = None
    known_at: float = 0.0
    pacing: RunningPace = field(default_factory=RunningPace.from_settings)
    durations: pace.Durations = field(default_factory=pace.Durations)
    next_follow: float = 0.0
    next_sweep: float = 0.0

    @classmethod
    def from_settings(cls) -> Syncer:
        return cls(budget=Budget(settings.SYNC_CALLS_PER_MINUTE))

    # Every upstream call of the sync goes through here: it counts against the budget.
    def call(self, read, *args, **kwargs):
        if self.budget.left() <= 0:
            raise OutOfBudget
        self.budget.spend()
        try:
            answer = read(*args, **kwargs)
        except genapi.RateLimited as exc:
            self.budget.hold(exc.retry_after or 30)
            raise
        SyncState.objects.filter(name=STATE_NAME).update(last_contact_at=timezone.now(), problem="")
        return answer

    def listing(self, page: int, *, statuses=()) -> genapi.HistoryPage:
        return self.call(genapi.history, page=page, limit=PAGE_SIZE, statuses=statuses)

    def catalogue(self) -> Catalogue:
        """The tools and styles, read again every CATALOGUE_SECONDS (titles and tools of results).

        A refresh takes a call for the tools and one a tool: it starts only when the budget
        has room for all of them, or it would spend what is free, run out, and start over
        on the next tick, for ever, while the other duties starved. Until then, and when a
        refresh fails, the catalogue last read serves."""
        if self.known is not None:
            due = time.monotonic() - self.known_at > CATALOGUE_SECONDS
            if not due or self.budget.left() < 1 + len(self.known.tools):
                return self.known
        try:
            tools = self.call(genapi.tools)
            styles: dict[str, genapi.Style] = {}
            for tool in tools:
                try:
                    styles.update((style.id, style) for style in self.call(genapi.styles, tool.name))
                except genapi.NotFound:
                    continue
        except (OutOfBudget, genapi.GenApiError):
            if self.known is None:
                raise
            self.known_at = time.monotonic() - CATALOGUE_SECONDS + CATALOGUE_RETRY_SECONDS
            return self.known
        self.known = Catalogue(tools={tool.name: tool for tool in tools}, styles=styles)
        self.known_at = time.monotonic()
        index.keep_catalogue(self.known)
        return self.known

    def seen(self, items, known: Catalogue, asked_at: datetime) -> index.Seen:
        """What the upstream showed when asked at `asked_at`, recorded in the index (rows
        recorded since are newer: left alone), and the ends of jobs made here."""
        shown = list(items)
        # One transaction: the change is announced once both are committed, so a tray
        # redrawn on the news already shows its job's end.
        with transaction.atomic():
            recorded = index.record_seen(shown, known, asked_at=asked_at)
            jobs.record_seen(shown)
        return recorded

    # --- The duties -------------------------------------------------------------------

    def tick(self) -> None:
        now = time.monotonic()
        known = self.catalogue()
        if now >= self.pacing.next_at():
            self.running(known, at=now)
        if now >= self.next_follow:
            self.follow(known)
            self.next_follow = now + settings.SYNC_FOLLOW_SECONDS
        if now >= self.next_sweep:
            if state().first_sync_done:
                self.sweep_page(known)
            else:
                self.first_sync(known)
            self.next_sweep = now + settings.SYNC_SWEEP_PAGE_SECONDS

    def next_due(self) -> float:
        """When a duty is next due (the monotonic clock): the process rests until then."""
        return min(self.pacing.next_at(), self.next_follow, self.next_sweep)

    def running(self, known: Catalogue, *, at: float | None = None) -> None:
        """One listing of the running results; those that left it are read on their own."""
        at = time.monotonic() if at is None else at
        believed = list(
            IndexedResult.objects.filter(status=genapi.Status.PENDING).values_list("history_item_id", flat=True)
        )
        if not believed:
            self.pacing.listed(at, 0, [])
            return
        still: dict[str, genapi.HistoryItem] = {}
        page, asked_at = 1, timezone.now()
        while True:
            listing = self.listing(page, statuses=["pending"])
            still.update((item.id, item) for item in listing.items)
            if not listing.has_next or not listing.items:
                break
            page += 1
        running_now = [(known.tool_of(item), item.created_at) for item in still.values()]
        self.pacing.listed(at, page, pace.windows(running_now, self.durations))
        self.seen(still.values(), known, asked_at)
        left = [item_id for item_id in believed if item_id not in still][:DETAIL_READS_PER_TICK]
        self.read_each(left, known)
        SyncState.objects.filter(name=STATE_NAME).update(last_running_at=timezone.now())

    def read_each(self, item_ids: list[str], known: Catalogue) -> None:
        """Read these results on their own, from the upstream itself (a listing's copy in
        the cache would hide a deletion): recorded as they are, or gone by the one rule."""
        found, missing, asked_at = [], [], timezone.now()
        for item_id in item_ids:
            try:
                found.append(self.call(genapi.item, item_id, fresh=True))
            except genapi.NotFound:
                missing.append(item_id)
        self.seen(found, known, asked_at)
        if missing:
            jobs.not_found(missing)

    def follow(self, known: Catalogue) -> None:
        """The newest pages, until one shows nothing new or changed."""
        for page in range(1, FOLLOW_PAGES_PER_TICK + 1):
            asked_at = timezone.now()
            listing = self.listing(page)
            seen = self.seen(listing.items, known, asked_at)
            note_total(listing)
            if not seen.touched or not listing.has_next:
                break
        SyncState.objects.filter(name=STATE_NAME).update(last_follow_at=timezone.now())

    def first_sync(self, known: Catalogue) -> None:
        """The whole listing, a few pages a tick, resuming where it stopped."""
        current = state()
        page = current.first_sync_page
        for _ in range(FIRST_SYNC_PAGES_PER_TICK):
            asked_at = timezone.now()
            listing = self.listing(page)
            self.seen(listing.items, known, asked_at)
            note_total(listing)
            done = not listing.has_next or not listing.items
            SyncState.objects.filter(name=STATE_NAME).update(
                first_sync_page=page if done else page + 1, first_sync_done=done
            )
            if done:
                logger.info("first sync done: %s pages", page)
                index.refresh_statistics()
                return
            page += 1

    def sweep_page(self, known: Catalogue) -> None:
        """One page of the sweep: what it shows is recorded (likes changed elsewhere too);
        rows of its time window it does not show are read on their own."""
        current = state()
        page = current.sweep_page
        if page == 1 or current.sweep_started_at is None:
            current.sweep_started_at = timezone.now()
        asked_at = timezone.now()
        listing = self.listing(page)
        self.seen(listing.items, known, asked_at)
        note_total(listing)
        shown = [item.created_at for item in listing.items if item.created_at is not None]
        last = not listing.has_next or not listing.items
        newest = current.sweep_boundary
        oldest = None if last else min(shown, default=None)
        unshown = (
            IndexedResult.objects.filter(
                index.unseen_since(current.sweep_started_at, older_than=newest, newer_than=oldest)
            )
            .exclude(history_item_id__in=[item.id for item in listing.items])
            .exclude(sort_at__gte=timezone.now() - JUST_MADE)
            .order_by("-sort_at")
            .values_list("history_item_id", flat=True)[:SWEEP_READS_PER_PAGE]
        )
        self.read_each(list(unshown), known)
        if last:
            SyncState.objects.filter(name=STATE_NAME).update(
                sweep_page=1, sweep_started_at=None, sweep_boundary=None, last_sweep_finished_at=timezone.now()
            )
            index.refresh_statistics()
        else:
            SyncState.objects.filter(name=STATE_NAME).update(
                sweep_page=page + 1, sweep_started_at=current.sweep_started_at, sweep_boundary=oldest
            )


def note_total(listing: genapi.HistoryPage) -> None:
    SyncState.objects.filter(name=STATE_NAME).update(upstream_total=listing.total_count, upstream_pages=listing.pages)


# --- The process ------------------------------------------------------------------------


def run(stop: threading.Event, *, holder: str | None = None) -> None:
    """Sync until `stop` is set: hold the lease, do what is due, rest a moment."""
    holder = holder or holder_name()
    syncer = Syncer.from_settings()
    logger.info("sync %s started", holder)
    try:
        while not stop.is_set():
            close_old_connections()
            # Each tick's lines, and its upstream calls', share one id.
            with logs.bound(tick=logs.new_id()[:16]):
                try:
                    if not take_lease(holder):
                        stop.wait(settings.SYNC_STANDBY_SECONDS)
                        continue
                    syncer.tick()
                except OutOfBudget:
                    stop.wait(settings.SYNC_IDLE_SECONDS)
                    continue
                except genapi.GenApiError as exc:
                    SyncState.objects.filter(name=STATE_NAME).update(problem=exc.message[:300])
                    logger.warning("sync: the upstream failed: %s", exc.message)
                    stop.wait(settings.SYNC_RUNNING_SECONDS)
            stop.wait(rest(syncer))
    finally:
        give_back_lease(holder)
        connections.close_all()  # this thread's own (a test runs the sync in a thread)
        logger.info("sync %s stopped", holder)


def rest(syncer: Syncer) -> float:
    """Until the next duty is due, at most SYNC_IDLE_SECONDS (a job made here meanwhile is
    noticed then, and the lease renewed) and at least a moment (no busy loop)."""
    return min(settings.SYNC_IDLE_SECONDS, max(MIN_REST_SECONDS, syncer.next_due() - time.monotonic()))


def catch_up() -> None:
    """Everything at once, for a first look and for tests: the whole listing, the running
    results and a whole sweep, without pacing (`manage.py sync_index --once`)."""
    syncer = Syncer(budget=Budget(10**9))
    known = syncer.catalogue()
    while not state().first_sync_done:
        syncer.first_sync(known)
    syncer.running(known)
    syncer.follow(known)
    while True:
        syncer.sweep_page(known)
        if state().sweep_page == 1:
            break
    with transaction.atomic():
        SyncState.objects.filter(name=STATE_NAME).update(last_follow_at=timezone.now())
