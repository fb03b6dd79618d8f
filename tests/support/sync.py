"""The sync process for tests: run in a thread of the test process (quick to start, on
the test database), paced fast so a test waits a moment, not seconds::

    with sync_running(settings):
        ...  # the index follows the simulator by itself

Tests that use it need `transactional_db` (the thread has its own connection, so rows
must be committed for it to see them). For one catch-up at a point of a test, call
`dashboard.index.sync.catch_up()` instead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from dashboard.index import sync


@contextmanager
def sync_running(settings) -> Iterator[threading.Thread]:
    settings.SYNC_RUNNING_SECONDS = 0.3
    settings.SYNC_FOLLOW_SECONDS = 0.5
    settings.SYNC_SWEEP_PAGE_SECONDS = 0.5
    settings.SYNC_IDLE_SECONDS = 0.05
    settings.SYNC_CALLS_PER_MINUTE = 100_000
    stop = threading.Event()
    thread = threading.Thread(target=sync.run, args=(stop,), name="test-sync", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=30)
