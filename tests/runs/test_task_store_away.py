"""With the RQ task backend, Redis (its task store) not answering when a run starts: the
designer is answered within the Redis timeout, the run and its cells are recorded, and
every cell is sent once a worker can reach the store again (its tending enqueues them).

Redis here is a socket that accepts connections and never answers (as a frozen Redis
does): the test run's own Redis serves the other tests meanwhile, and the worker."""

from __future__ import annotations

import socket
import threading
import time

import django_rq.settings
import pytest
from django.db import connection

from dashboard.models import RunCell
from dashboard.settings import rq_queue_settings
from tests.runs.test_worker import all_sent, creations, start
from tests.support.waiting import wait_until
from tests.support.worker import WorkerProcess

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.tasks_rq,
    pytest.mark.rq_only,
]


@pytest.fixture
def designer(ada, on_simulator):
    return ada


@pytest.fixture
def silent_redis():
    """The address of a server that takes connections into its backlog and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    finally:
        listener.close()


def test_a_run_started_while_redis_does_not_answer_is_kept_and_sent_once_it_does(
    settings, simulator, designer, silent_redis, monkeypatch
):
    simulator.clear_requests()
    monkeypatch.setitem(django_rq.settings.QUEUES, "default", rq_queue_settings(silent_redis))
    started: list = []

    def starting_run() -> None:
        try:
            started.append(start(designer, 2, 2))
        finally:
            connection.close()  # the thread's own

    starting = threading.Thread(target=starting_run, daemon=True)
    began = time.monotonic()
    starting.start()
    starting.join(timeout=15)
    assert not starting.is_alive(), "starting the run hung on a Redis that does not answer"
    assert started, "starting the run failed"
    took = time.monotonic() - began
    # One enqueue tried for REDIS_TIMEOUT, then given up (without the timeout: 5.4 s here).
    assert took < settings.REDIS_TIMEOUT + 3
    run = started[0]
    assert run.cells.filter(state=RunCell.State.QUEUED, task_id__isnull=True).count() == 4

    monkeypatch.undo()  # Redis answers again
    with WorkerProcess(settings):
        wait_until(lambda: all_sent(run), timeout=90, message="every cell sent once a worker reached Redis")
    assert len(creations(simulator)) == 4
