"""The background workers' liveness, and taking over a dead one's work.

Each worker (`manage.py run_worker`) beats every WORKER_BEAT_SECONDS, and as often the
first of the living workers by name tends the runs (`tend`): a worker silent for
WORKER_DEAD_AFTER_SECONDS is dead (killed, out of memory, its machine gone), and what it
held is taken over at the next tending, with nobody watching a run page:

- a queued cell whose task died with it (or was lost) gets a new task;
- a cell it was sending when it died may or may not have been made upstream (the API
  has no idempotency key), so it is never sent again by itself: it is shown failed at
  once, saying so, and "Try again" is the designer's to press.

Liveness is read from these beats, never from a task backend's own tables, so it
means the same whichever backend TASKS names.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone
from django.utils.crypto import get_random_string

from dashboard.models import WorkerBeat

logger = logging.getLogger("dashboard.runs")

# Beats of workers gone this long are deleted (kept a while: an operator may ask).
FORGET_AFTER = timedelta(days=1)


def new_name() -> str:
    """Unique across the pool, and says where to look: host, process id, a random part."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{get_random_string(6)}"


def dead_after() -> timedelta:
    return timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)


def beat(name: str) -> None:
    now = timezone.now()
    if not WorkerBeat.objects.filter(name=name).update(beat_at=now):
        WorkerBeat.objects.create(name=name, started_at=now, beat_at=now)


def stopped(name: str) -> None:
    """A clean exit: dead at once rather than after WORKER_DEAD_AFTER_SECONDS."""
    WorkerBeat.objects.filter(name=name).delete()


def alive() -> set[str]:
    since = timezone.now() - dead_after()
    return set(WorkerBeat.objects.filter(beat_at__gte=since).values_list("name", flat=True))


def any_alive() -> bool:
    return WorkerBeat.objects.filter(beat_at__gte=timezone.now() - dead_after()).exists()


def tends(name: str, living: set[str]) -> bool:
    """Whether the worker `name` is the one that tends: the first of the living by name.
    One is enough: what is taken over is a dead worker's, out of `living` whoever looks
    (the first dying, the next is first the moment its work can be taken over), and the
    task backend is asked about each queued cell once a beat, not once a beat per worker."""
    return name == min(living | {name})


def tend(living: set[str] | None = None) -> int:
    """Take over what dead workers held (see the module's docstring); how many cells."""
    from dashboard.runs import services as runs

    if living is None:
        living = alive()
    taken = runs.fail_cells_of_dead_workers(living) + runs.revive(living)
    WorkerBeat.objects.filter(beat_at__lt=timezone.now() - FORGET_AFTER).delete()
    return taken


class Heart(threading.Thread):
    """Beats and tends beside the worker's own loop, in a thread of its own: a task that
    takes long (a slow upstream) does not make its worker look dead. A database that
    is away is waited for; the next beat after it is back counts."""

    def __init__(self, name: str, *, also: Callable[[set[str]], object] | None = None):
        super().__init__(name=f"heart-{name}", daemon=True)
        self.worker_name = name
        self.also = also  # the backend's own tidying, given the living workers
        self.stopping = threading.Event()
        self.former_names: list[str] = []

    def run(self) -> None:
        while not self.stopping.is_set():
            close_old_connections()
            try:
                beat(self.worker_name)
                while self.former_names:
                    stopped(self.former_names[0])
                    self.former_names.pop(0)
                living = alive()
                if tends(self.worker_name, living):
                    tend(living)
                    if self.also:
                        self.also(living)
            except DatabaseError as exc:
                logger.warning("worker %s: the database is away (%s); trying again", self.worker_name, exc)
            except Exception:
                # Anything else in tending is logged, and the beats go on: a heart that
                # stopped would make a live worker look dead, its cells taken over.
                logger.exception("worker %s: tending the runs failed; trying again", self.worker_name)
            self.stopping.wait(settings.WORKER_BEAT_SECONDS)

    def new_life(self, name: str) -> None:
        """The worker's loop started again after its database failed it: what it held
        under its former name (a task, a cell being sent) is a dead worker's now, taken
        over like any other's, the name forgotten at the next beat."""
        self.former_names.append(self.worker_name)
        self.worker_name = name

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)
        try:
            stopped(self.worker_name)
        except DatabaseError:
            pass  # it is dead after WORKER_DEAD_AFTER_SECONDS anyway
