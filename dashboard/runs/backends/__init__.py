"""What differs between the task backends TASKS_BACKEND chooses from (settings.py): how
`manage.py run_worker` runs each one's worker, and each one's own tidying. Everything
else (enqueueing, reading a task's state, reviving a dead worker's cells) goes through
Django's tasks API and is the same for both; only these modules import a backend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module


@dataclass(frozen=True)
class WorkerLoop:
    # Runs the backend's worker under this name until it is asked to stop.
    work: Callable[..., None]
    # Errors of the backend's store that end `work`: run_worker waits and starts it again.
    store_errors: tuple[type[Exception], ...]
    # The backend's own tidying, given the living workers' names, at every tending.
    tidy: Callable[[set[str]], object] | None
    # Errors of the backend's store not answering (down, hung past its timeout): an
    # enqueue that meets one leaves its cell to a worker's tending (runs.revive).
    unreachable: tuple[type[Exception], ...]


def worker_loop(backend: str) -> WorkerLoop:
    """The worker loop of TASKS_BACKEND's backend ("database" or "rq")."""
    return import_module(f"dashboard.runs.backends.{backend}").LOOP


def store_unreachable() -> tuple[type[Exception], ...]:
    """The errors of the configured backend's store not answering."""
    from django.conf import settings

    return worker_loop(settings.TASKS_BACKEND).unreachable
