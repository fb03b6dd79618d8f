"""The sync's pace for the running results, on a fake clock with the upstream stubbed by
`responses`: each tool's expected duration learnt from the index, the calls a minute with
0, 1 and 100 results running, and a result seen finished soon after its expected end."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from dashboard.index import pace, sync
from dashboard.index import services as index
from dashboard.models import IndexedResult
from tests.index.test_sync import Upstream, api  # noqa: F401 (the fixture)

pytestmark = pytest.mark.django_db
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    """One fake time for the sync's monotonic clock and for Django's `timezone.now()`."""

    def __init__(self, monkeypatch):
        self.seconds = 1000.0
        monkeypatch.setattr(sync.time, "monotonic", lambda: self.seconds)
        monkeypatch.setattr(timezone, "now", self.wall)

    def wall(self) -> datetime:
        return START + timedelta(seconds=self.seconds)

    def at(self, seconds: float) -> datetime:
        return START + timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def result(number: int, *, created: datetime, ends: datetime | None, tool: str = "fashion_swap") -> dict:
    """A result as the upstream lists it; `ends`: when it finished (None: running)."""
    finished = ends is not None
    return {
        "id": f"{number:024x}",
        "status": "complete" if finished else "pending",
        "generation_type": tool,
        "created_at": stamp(created),
        "finished_at": stamp(ends) if finished else None,
        "preview_url": f"/image/{number}.webp" if finished else None,
        "stock_url": f"/image/{number}.png" if finished else None,
        "like": None,
    }


def history(clock: Clock, seconds: list[float], *, first: int = 1, tool: str = "fashion_swap") -> list[dict]:
    """Finished results of `tool` that took these many seconds each, made in the last hour."""
    made = [clock.wall() - timedelta(minutes=60) + timedelta(seconds=20 * n) for n in range(len(seconds))]
    return [
        result(first + n, created=moment, ends=moment + timedelta(seconds=took), tool=tool)
        for n, (moment, took) in enumerate(zip(made, seconds, strict=True))
    ]


class TestExpectedDurations:
    def test_a_tool_s_duration_is_learnt_from_its_finished_results_in_the_index(self, api, clock):  # noqa: F811
        Upstream(api, history(clock, [4.0 + 0.1 * (n % 5) for n in range(20)]))
        sync.catch_up()
        expected = pace.expected_duration("fashion_swap")
        assert expected is not None and expected.samples == 20
        assert 4.0 <= expected.low <= expected.median <= expected.high <= 4.4
        assert expected.median == pytest.approx(4.2)
        assert pace.expected_duration("never_used") is None

    def test_a_few_slow_results_do_not_move_the_window_much(self, api, clock):  # noqa: F811
        Upstream(api, history(clock, [5.0] * 46 + [300.0] * 4))
        sync.catch_up()
        expected = pace.expected_duration("fashion_swap")
        assert expected.median == 5.0 and expected.low == 5.0 and expected.high == 5.0

    def test_the_sync_reads_it_again_every_few_minutes_and_so_learns_what_changed(
        self,
        api,  # noqa: F811
        clock,
        django_assert_num_queries,
    ):
        upstream = Upstream(api, history(clock, [4.0] * 10))
        sync.catch_up()
        durations = pace.Durations()
        assert durations.of("fashion_swap").median == 4.0
        # The tool became slower: 20 new results took 9 s each.
        upstream.items += history(clock, [9.0] * 20, first=100)
        sync.catch_up()
        with django_assert_num_queries(0):
            assert durations.of("fashion_swap").median == 4.0  # kept, not read each tick
        clock.seconds += pace.DURATIONS_SECONDS + 1
        assert durations.of("fashion_swap").median == 9.0

    def test_without_enough_finished_results_a_tool_has_no_window(self, api, clock):  # noqa: F811
        Upstream(api, history(clock, [4.0] * (pace.DURATION_MIN_SAMPLES - 1)))
        sync.catch_up()
        assert pace.expected_duration("fashion_swap") is None
        assert pace.windows([("fashion_swap", clock.wall())], pace.Durations()) == []


class Jobs:
    """Jobs upstream that start and end on the fake clock: `running` of them at a time,
    each taking a duration drawn from `took()`, each replaced by a new one when it ends."""

    def __init__(self, upstream: Upstream, clock: Clock, running: int, took, first: int = 10_000):
        self.upstream, self.clock, self.took = upstream, clock, took
        self.ends: dict[str, float] = {}
        self.next_number = first
        for _ in range(running):
            # Staggered, as if they had been running for a while already.
            self.start(age=random.uniform(0, took()))

    def start(self, *, age: float = 0.0) -> None:
        created = self.clock.seconds - age
        entry = result(self.next_number, created=self.clock.at(created), ends=None)
        self.upstream.items.append(entry)
        self.ends[entry["id"]] = created + max(self.took(), age + 0.1)
        self.next_number += 1

    def advance(self) -> None:
        """The upstream now: the jobs due have finished, and new ones replace them."""
        for entry in list(self.upstream.items):
            end = self.ends.get(entry["id"])
            if end is not None and entry["status"] == "pending" and end <= self.clock.seconds:
                entry.update(status="complete", finished_at=stamp(self.clock.at(end)), preview_url="/image/x.webp")
                self.start()


def simulate(worker: sync.Syncer, clock: Clock, seconds: float, step=lambda: None, after=lambda: None) -> None:
    """The sync process's loop on the fake clock: the upstream moves on (`step`), a tick,
    what it recorded looked at (`after`), then its rest."""
    end = clock.seconds + seconds
    while clock.seconds < end:
        step()
        try:
            worker.tick()
            after()
            clock.seconds += sync.rest(worker)
        except sync.OutOfBudget:
            clock.seconds += 0.5


class Calls:
    """The upstream calls made, each at its time on the fake clock."""

    def __init__(self, api, clock: Clock):
        self.api, self.clock = api, clock
        self.counted = len(api.calls)
        self.made: list[tuple[float, str]] = []

    def note(self) -> None:
        for call in list(self.api.calls)[self.counted :]:
            self.made.append((self.clock.seconds, call.request.url))
        self.counted = len(self.api.calls)

    def most_in_a_minute(self, kind: str = "") -> int:
        times = [at for at, url in self.made if kind in url]
        return max((sum(1 for other in times if at <= other < at + 60) for at in times), default=0)


RUNNING_LISTING = "status=pending"


@pytest.mark.parametrize("running", [0, 1, 100, 250])
def test_the_calls_a_minute_stay_within_what_the_readme_states_whatever_the_number_running(
    running,
    api,  # noqa: F811
    clock,
    settings,
):
    """Jobs of about 5 minutes (the index's history says 4 to 6): base listings once a
    second while any run, faster ones only inside the windows, at most
    SYNC_RUNNING_FAST_CALLS_PER_MINUTE of those; all of it under SYNC_CALLS_PER_MINUTE.
    250 running take 3 calls a listing: the pace stretches, the calls a minute stay."""
    random.seed(17)
    upstream = Upstream(api, history(clock, [random.uniform(240, 360) for _ in range(50)]))
    jobs = Jobs(upstream, clock, running, took=lambda: random.uniform(240, 360))
    sync.catch_up()
    worker = sync.Syncer.from_settings()
    calls = Calls(api, clock)

    def step():
        jobs.advance()
        calls.note()

    simulate(worker, clock, 120, step)
    calls.note()
    listings = calls.most_in_a_minute(RUNNING_LISTING)
    base = 60 / settings.SYNC_RUNNING_SECONDS
    if running == 0:
        assert listings == 0
        assert calls.most_in_a_minute() <= 6 + 12 + 2  # follow, sweep, the catalogue
    else:
        assert base - 2 <= listings <= base + settings.SYNC_RUNNING_FAST_CALLS_PER_MINUTE
    assert calls.most_in_a_minute() <= settings.SYNC_CALLS_PER_MINUTE


def test_a_result_expected_to_finish_at_t_is_seen_finished_within_a_third_of_a_second(
    api,  # noqa: F811
    clock,
):
    """The index says the tool takes 4.0 to 4.4 s; jobs made now end at 4.0 to 4.4 s."""
    upstream = Upstream(api, history(clock, [4.0 + 0.1 * (n % 5) for n in range(20)]))
    late = []
    for attempt in range(5):
        made = clock.seconds
        jobs = Jobs(upstream, clock, 0, took=lambda attempt=attempt: 4.0 + 0.1 * attempt, first=1000 * (attempt + 1))
        jobs.start()
        sync.catch_up()
        watched = upstream.items[-1]["id"]
        ends = jobs.ends[watched]
        seen_at = []

        def recorded(watched=watched, seen_at=seen_at):
            if not seen_at and IndexedResult.objects.get(history_item_id=watched).status == "complete":
                seen_at.append(clock.seconds)

        simulate(sync.Syncer.from_settings(), clock, 8, jobs.advance, recorded)
        late.append(round(seen_at[0] - ends, 3))
        assert made + 4 <= ends
    assert max(late) <= 0.3, late


def test_without_an_estimate_a_result_is_seen_at_the_base_cadence(api, clock, settings, monkeypatch):  # noqa: F811
    """The same jobs, a tool without enough finished results for an estimate: up to a
    second late."""
    monkeypatch.setattr(pace, "DURATION_MIN_SAMPLES", 1000)
    upstream = Upstream(api, [])
    late = []
    for attempt in range(5):
        jobs = Jobs(upstream, clock, 0, took=lambda attempt=attempt: 4.0 + 0.2 * attempt, first=1000 * (attempt + 1))
        jobs.start()
        sync.catch_up()
        watched = upstream.items[-1]["id"]
        seen_at = []

        def recorded(watched=watched, seen_at=seen_at):
            if not seen_at and IndexedResult.objects.get(history_item_id=watched).status == "complete":
                seen_at.append(clock.seconds)

        simulate(sync.Syncer.from_settings(), clock, 8, jobs.advance, recorded)
        late.append(seen_at[0] - jobs.ends[watched])
    assert max(late) <= settings.SYNC_RUNNING_SECONDS + 1e-6
    assert max(late) > 0.3  # what the windows are for


class TestTheAnnouncement:
    """Each change the index records is announced once committed (index.changed), for a
    publisher to push: the sync's status changes as it sees them, a result forgotten."""

    @pytest.fixture
    def heard(self):
        heard: list[index.Seen] = []

        def receiver(sender, seen, **kwargs):
            heard.append(seen)

        index.changed.connect(receiver)
        yield heard
        index.changed.disconnect(receiver)

    def test_a_result_the_sync_sees_finish_is_announced_once_committed(
        self,
        api,  # noqa: F811
        heard,
        django_capture_on_commit_callbacks,
    ):
        upstream = Upstream(api, [result(1, created=timezone.now(), ends=None)])
        sync.catch_up()
        upstream.items[0].update(status="complete", preview_url="/image/1.webp")
        worker = sync.Syncer.from_settings()
        with django_capture_on_commit_callbacks() as waiting:
            worker.running(worker.catalogue())
            assert heard == []  # not before the rows are committed
        for callback in waiting:
            callback()
        assert [seen.changed for seen in heard] == [[upstream.items[0]["id"]]]
        assert [item.id for item in heard[0].finished] == [upstream.items[0]["id"]]

    def test_a_receiver_that_fails_leaves_the_change_and_the_others_heard(
        self,
        api,  # noqa: F811
        heard,
        django_capture_on_commit_callbacks,
    ):
        def broken(sender, seen, **kwargs):
            raise RuntimeError("the publisher is down")

        index.changed.connect(broken)
        try:
            with django_capture_on_commit_callbacks(execute=True):
                index.forget(["a" * 24])
                Upstream(api, [result(2, created=timezone.now(), ends=None)])
                sync.catch_up()
        finally:
            index.changed.disconnect(broken)
        assert IndexedResult.objects.filter(history_item_id=f"{2:024x}").exists()
        assert [seen.added for seen in heard] == [[f"{2:024x}"]]


def test_a_tool_without_an_estimate_is_looked_at_again_soon(api, clock):  # noqa: F811
    """A new deployment's first jobs teach the estimate within seconds, not minutes."""
    upstream = Upstream(api, history(clock, [4.0] * (pace.DURATION_MIN_SAMPLES - 1)))
    sync.catch_up()
    durations = pace.Durations()
    assert durations.of("fashion_swap") is None
    upstream.items += history(clock, [4.0], first=100)
    sync.catch_up()
    clock.seconds += pace.UNKNOWN_DURATION_SECONDS + 1
    assert durations.of("fashion_swap").median == 4.0


def test_a_window_is_a_second_longer_when_the_upstream_stamps_whole_seconds(api, clock):  # noqa: F811
    """A job stamped 09:00:07 was made between 09:00:07 and 09:00:08."""
    Upstream(api, history(clock, [4.0] * 10))
    sync.catch_up()
    durations = pace.Durations()
    ((start, end),) = pace.windows([("fashion_swap", clock.wall())], durations)
    assert (start, end) == (4.0 - pace.WINDOW_MARGIN_SECONDS, 5.0 + pace.WINDOW_MARGIN_SECONDS)
    exact = clock.wall() + timedelta(microseconds=1)
    ((start, end),) = pace.windows([("fashion_swap", exact)], durations)
    assert end - start == pytest.approx(2 * pace.WINDOW_MARGIN_SECONDS)
