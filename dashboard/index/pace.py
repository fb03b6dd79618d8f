"""How long each tool's jobs take, learnt from the index: the sync asks for the running
results faster only around the moment each is expected to finish (dashboard/index/sync.py).

A fixed one-second poll sees a result end half a second late on average. Asking four
times a second all the time would cost four times the calls; asking that often only in a
short window around each running result's expected end costs a few calls a result.

The estimate is robust rather than clever: the 10th percentile, the median and the 90th
percentile of (finished_at - created_at) over the last DURATION_SAMPLES finished results
of the tool, read again every DURATIONS_SECONDS. The window runs from the 10th percentile
less WINDOW_MARGIN_SECONDS to the 90th plus it; a result outside its window (a tool never
seen finishing, a job late beyond the window) is still read at the base cadence.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from dashboard import genapi
from dashboard.models import IndexedResult

# The finished results of a tool the estimate reads (the newest), and the fewest it needs:
# fewer, and the tool has no window (its results are read at the base cadence).
DURATION_SAMPLES = 50
DURATION_MIN_SAMPLES = 3
# A tool's estimate is read from the index again after this long; sooner while it has
# none (a new tool, a new deployment: its first results teach it within a few jobs).
DURATIONS_SECONDS = 300
UNKNOWN_DURATION_SECONDS = 10
# The window around an expected end starts this much before the 10th percentile and ends
# this much after the 90th: the cadence's own step, and a little for clocks.
WINDOW_MARGIN_SECONDS = 0.25


@dataclass(frozen=True)
class Expected:
    """How long a tool's jobs took, in seconds, over its last `samples` finished results."""

    low: float  # the 10th percentile
    median: float
    high: float  # the 90th percentile
    samples: int


def expected_duration(tool: str, *, last: int = DURATION_SAMPLES) -> Expected | None:
    """The tool's duration over its newest `last` complete results in the index; None
    with fewer than DURATION_MIN_SAMPLES of them. A row's `finished_at` is the upstream's
    (`finished_at` outside the contract) or, when it does not say, when the sync saw the
    result finished: then the estimate is late by the sync's step, which the window's
    margin covers (and the sync sees ends sooner as its windows close in)."""
    if not tool:
        return None
    rows = (
        IndexedResult.objects.filter(
            tool=tool, status=genapi.Status.COMPLETE, created_at__isnull=False, finished_at__isnull=False
        )
        .order_by("-sort_at")
        .values_list("created_at", "finished_at")[:last]
    )
    seconds = [
        (finished - created).total_seconds()
        for created, finished in rows
        if created is not None and finished is not None and finished >= created
    ]
    if len(seconds) < DURATION_MIN_SAMPLES:
        return None
    deciles = statistics.quantiles(seconds, n=10, method="inclusive")
    return Expected(low=deciles[0], median=statistics.median(seconds), high=deciles[-1], samples=len(seconds))


@dataclass
class Durations:
    """Each tool's expected duration as the sync process keeps it: read from the index
    when first needed and again once it is DURATIONS_SECONDS old, or
    UNKNOWN_DURATION_SECONDS while the tool has none (a query a tool)."""

    read_at: dict[str, float] = field(default_factory=dict)
    known: dict[str, Expected | None] = field(default_factory=dict)

    def of(self, tool: str) -> Expected | None:
        now = time.monotonic()
        if tool not in self.known or now - self.read_at[tool] > self.keep(self.known[tool]):
            self.known[tool] = expected_duration(tool)
            self.read_at[tool] = now
        return self.known[tool]

    @staticmethod
    def keep(expected: Expected | None) -> float:
        return DURATIONS_SECONDS if expected is not None else UNKNOWN_DURATION_SECONDS


def stamp_precision(moment: datetime) -> float:
    """The upstream's times are whole seconds (its documented example; the simulator
    too): a job stamped 12:00:07 was made up to a second later, and the durations learnt
    from such stamps are whole seconds apart. Relative to the stamp, the end lies within
    [10th percentile, 90th percentile + 1 s): the window is a second longer than the
    estimate's spread. Times with a fraction are taken as exact."""
    return 1.0 if moment.microsecond == 0 else 0.0


def windows(running: Iterable[tuple[str, datetime | None]], durations: Durations) -> list[tuple[float, float]]:
    """For each running result (its tool, its creation time), the window around its
    expected end in seconds from now (start, end), the windows already over left out."""
    now = timezone.now()
    found = []
    for tool, created_at in running:
        expected = durations.of(tool) if created_at is not None else None
        if expected is None or created_at is None:
            continue
        age = (now - created_at).total_seconds()
        start = expected.low - WINDOW_MARGIN_SECONDS - age
        end = expected.high + stamp_precision(created_at) + WINDOW_MARGIN_SECONDS - age
        if end > 0:
            found.append((start, end))
    return found
