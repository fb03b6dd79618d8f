"""Per-designer limits counted in fixed one-minute windows (jobs sent, photos added).

The counters live in the cache: shared by every worker and machine with REDIS_URL, per
worker process without it (check --deploy warns about that), and with Redis down they
count nothing, so the limits let work through rather than fail it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache

WINDOW_SECONDS = 60
# The clock the windows are cut from (tests hold it still: a test of a limit must not
# straddle two windows on a slow machine).
clock = time.time


@dataclass(frozen=True)
class Minute:
    """This minute's window for one counter."""

    key: str
    seconds_left: int


def this_minute(name: str, designer) -> Minute:
    now = clock()
    window = int(now // WINDOW_SECONDS)
    return Minute(key=f"{name}:{designer.pk}:{window}", seconds_left=max(1, int(WINDOW_SECONDS - now % WINDOW_SECONDS)))


def add(minute: Minute, amount: int) -> int:
    """Add to the minute's counter (it outlives its window a little); the new total."""
    cache.add(minute.key, 0, timeout=WINDOW_SECONDS + 10)
    try:
        return cache.incr(minute.key, amount)
    except ValueError:  # evicted between add and incr
        cache.set(minute.key, amount, timeout=WINDOW_SECONDS + 10)
        return amount
