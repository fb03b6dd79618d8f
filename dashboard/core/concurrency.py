"""Upstream calls for many results at once (bulk like, dislike, delete): a few at a time
and all within one deadline, so a selection of a hundred neither takes a hundred calls'
time nor holds a worker thread for as long as a slow upstream likes.

Only the upstream calls run in the pool's threads; what they lead to is written to the
database afterwards, in the request's own thread (its transaction and connection).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from django.conf import settings

from dashboard import genapi


class Late:
    """A call that had not finished when the deadline passed (its answer is not waited for)."""

    def __repr__(self) -> str:
        return "LATE"


LATE = Late()
LATE_MESSAGE = "The generation service did not answer in time. Try again."


def each[Key: Hashable, Result](call: Callable[[Key], Result], keys: Sequence[Key]) -> dict[Key, Result | Late]:
    """`call(key)` for every key, at most BULK_CONCURRENCY at a time, within
    BULK_DEADLINE_SECONDS in all: each key's result, or LATE. An exception a call raises
    is raised here (calls return the failures they expect as values)."""
    if not keys:
        return {}
    pool = ThreadPoolExecutor(max_workers=min(settings.BULK_CONCURRENCY, len(keys)), thread_name_prefix="bulk")
    try:
        # Each call in the request's context: its log lines carry the request's id.
        futures = {key: pool.submit(contextvars.copy_context().run, call, key) for key in keys}
        wait(futures.values(), timeout=settings.BULK_DEADLINE_SECONDS)
    finally:
        # Calls not yet started are dropped; one under way ends within its own deadline
        # (GENAPI_DEADLINE), its answer unread.
        pool.shutdown(wait=False, cancel_futures=True)
    return {
        key: future.result() if future.done() and not future.cancelled() else LATE for key, future in futures.items()
    }


def problem(failure: genapi.GenApiError | Late) -> str:
    return failure.message if isinstance(failure, genapi.GenApiError) else LATE_MESSAGE


@dataclass
class Many:
    """What an action on several results came to."""

    done: list[str] = field(default_factory=list)
    # Already as asked (gone upstream, for a delete): done, with nothing to undo.
    already: list[str] = field(default_factory=list)
    # Why some were left alone (each result's reason).
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, genapi.GenApiError | Late]] = field(default_factory=list)
