"""What changed, told to the open pages (server-sent events, the push path).

What records a change says so: the index announces each of its changes once committed
(index.changed: a status ended, a like changed, a result added or forgotten, by the sync
process or the web), received by `index_changed`; the runs' services call `run_changed`.
Both publish on ONE Redis pub/sub channel, after the change is committed; every web
process holds one subscription to it (hub.py) and hands each event to the streams it is
meant for. Publishing is best effort: without Redis, or
with Redis down, nothing is sent and the pages poll as before (polling finds every
change in the index, so nothing is lost; the push only makes it sooner).

Events are small and carry ids, never content: a page asks its usual poll URL for what
it shows, as a poll would.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import redis
from django.conf import settings
from django.db import transaction
from redis.connection import parse_url

logger = logging.getLogger("dashboard.live")

# The three kinds of event a page listens for (static/js/core.js).
JOB_CHANGED = "job-changed"  # a job of this designer started, ended or was rated: the tray
RESULT_CHANGED = "result-changed"  # results added, ended, rated, deleted, forgotten: the gallery
RUN_CHANGED = "run-changed"  # cells of these runs changed: the run page
# Enough for a page to tell whether an event concerns what it shows; a bigger change
# says only that something changed (a page then refreshes what it shows).
MOST_IDS = 100


@dataclass(frozen=True)
class Event:
    name: str
    data: dict = field(default_factory=dict)
    # Only this designer's streams get it (their own jobs); None: every stream.
    designer_id: int | None = None

    def as_message(self) -> dict:
        return {"event": self.name, "data": self.data, "for": self.designer_id}


def channel() -> str:
    """The channel, one per Redis database of REDIS_URL: pub/sub channels are shared by
    every database of a server, and the test runs give each worker a database of its own."""
    database = parse_url(settings.REDIS_URL).get("db", 0) if settings.REDIS_URL else 0
    return f"nextry:live:{database}"


def enabled() -> bool:
    """Whether changes are published (a deployment with Redis)."""
    return bool(settings.REDIS_URL)


def publish(events: Iterable[Event]) -> None:
    """Send these events to every web process, once the current transaction commits
    (a page must find the change when it asks)."""
    batch = [event.as_message() for event in events]
    if not batch or not enabled():
        return
    transaction.on_commit(lambda: _send(json.dumps(batch)))


def _send(message: str) -> None:
    from django_redis import get_redis_connection

    try:
        get_redis_connection("default").publish(channel(), message)
    except (redis.RedisError, NotImplementedError) as exc:  # NotImplementedError: a cache not on Redis
        # The cache's client (dashboard/core/rediscache.py) has already logged the outage
        # once and pauses every use of Redis; pages fall back to polling meanwhile.
        logger.debug("live: not published (%s)", exc)


def changes(item_ids: Iterable[str], *, designers: Iterable[int | None] = (), runs: Iterable[int | None] = ()) -> None:
    """Results changed (added, ended, rated, deleted, forgotten): every open gallery may
    show them; their makers' trays and their runs' pages do."""
    ids = list(dict.fromkeys(item_ids))
    if not ids:
        return
    shown_ids = ids[:MOST_IDS]
    more = len(ids) > MOST_IDS
    events = [Event(RESULT_CHANGED, {"ids": shown_ids, "more": more})]
    events += [
        Event(JOB_CHANGED, {"ids": shown_ids, "more": more}, designer_id=designer)
        for designer in sorted({d for d in designers if d is not None})
    ]
    run_ids = sorted({run for run in runs if run is not None})
    if run_ids:
        events.append(Event(RUN_CHANGED, {"runs": run_ids}))
    publish(events)


def index_changed(sender, seen, **kwargs) -> None:
    """The index's announcement (index.changed, sent once committed): results added,
    changed or forgotten reach every open gallery, and their jobs' makers' trays and run
    pages. Who made them is read from the jobs, which outlive a forgotten row."""
    ids = list(dict.fromkeys([*seen.added, *seen.changed, *seen.removed]))
    if not ids or not enabled():
        return  # nothing is read where nothing is published
    from dashboard.models import Job

    made_here = Job.objects.filter(history_item_id__in=ids[:MOST_IDS]).values_list("designer_id", "run_id")
    changes(ids, designers=[designer for designer, _ in made_here], runs=[run for _, run in made_here])


def run_changed(run_id: int) -> None:
    """A run's cells changed without a result changing (cancelled, tried again, refused)."""
    publish([Event(RUN_CHANGED, {"runs": [run_id]})])
