"""The RQ task backend (django-tasks-rq, on the deployment's Redis): its worker, its
scheduler, and the backend itself as Django's tasks API expects it."""

from __future__ import annotations

import logging
import sys
import threading

import django_rq
import redis
from django.conf import settings
from django.tasks.exceptions import TaskResultDoesNotExist
from django_tasks.exceptions import TaskResultDoesNotExist as BackportTaskResultDoesNotExist
from django_tasks_rq import RQBackend as BackportRQBackend
from rq.logutils import setup_loghandlers
from rq.scheduler import RQScheduler
from rq.scripts import release_lock

from dashboard.runs.backends import WorkerLoop

logger = logging.getLogger("dashboard.runs")

# How often a worker's scheduler looks for deferred tasks that are due (RQ's own pace).
SCHEDULER_SECONDS = 1


class RQBackend(BackportRQBackend):
    """django-tasks-rq is written for the django-tasks backport, and raises its exception
    for a task it does not know; callers of Django's own tasks API catch Django's."""

    def get_result(self, result_id: str):
        try:
            return super().get_result(result_id)
        except BackportTaskResultDoesNotExist as exc:
            raise TaskResultDoesNotExist(result_id) from exc


class Scheduler(threading.Thread):
    """RQ's scheduler (it moves the tasks deferred with `run_after` to the queue when
    due), run in a thread of the worker rather than RQ's forked process, under the
    worker's name. One worker at a time holds RQ's scheduler lock; when it dies, the
    living workers' heartbeats release the lock (`release_dead_schedulers`) once it is
    known dead, rather than leaving the deferred tasks waiting for the lock to expire
    and for RQ's maintenance (every ten minutes) to start another scheduler."""

    def __init__(self, name: str):
        super().__init__(name=f"scheduler-{name}", daemon=True)
        self.scheduler = RQScheduler(
            settings.TASK_QUEUES, connection=django_rq.get_connection(), interval=SCHEDULER_SECONDS, name=name
        )
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(SCHEDULER_SECONDS):
            try:
                if self.scheduler.acquire_locks():  # taken or renewed: this worker schedules
                    self.scheduler.enqueue_scheduled_jobs()
            except redis.RedisError as exc:
                logger.warning("scheduler %s: Redis failed (%s); trying again", self.scheduler.name, exc)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)
        try:
            self.scheduler.release_locks()
        except redis.RedisError:
            pass  # the lock expires by itself


def release_dead_schedulers(living: set[str]) -> int:
    """Scheduler locks held by workers that stopped beating: released, so a living
    worker's scheduler takes over at its next look. How many."""
    connection = django_rq.get_connection()
    released = 0
    for queue_name in settings.TASK_QUEUES:
        key = RQScheduler.get_locking_key(queue_name)
        holder = connection.get(key)
        if holder is not None:
            holder = holder.decode() if isinstance(holder, bytes) else str(holder)
            if holder not in living and release_lock(connection, key, holder):
                logger.warning("the scheduler of dead worker %s released", holder)
                released += 1
    return released


def work(name: str, *, interval: float, startup_delay: bool, verbosity: int) -> None:
    """RQ's worker (settings.RQ: SimpleWorker, django-tasks-rq's jobs) under our name, the
    one its tasks' results give as theirs, with the scheduler beside it. It waits on Redis
    for a task, so `interval` and `startup_delay` have nothing to do; it retries a Redis
    that went away itself."""
    level = "DEBUG" if verbosity >= 2 else "WARNING" if verbosity == 0 else "INFO"
    setup_loghandlers(level)
    worker = django_rq.get_worker(*settings.TASK_QUEUES, name=name)
    scheduler = Scheduler(name)
    scheduler.start()
    # The line db_worker starts with, for whoever waits for a worker to be up.
    sys.stdout.write(f"Starting worker {name} for queues {','.join(settings.TASK_QUEUES)}\n")
    sys.stdout.flush()
    try:
        worker.work(logging_level=level)
    finally:
        scheduler.stop()


# RQ's worker waits for a Redis that went away by itself; an enqueue gives up after REDIS_TIMEOUT.
LOOP = WorkerLoop(work=work, store_errors=(), tidy=release_dead_schedulers, unreachable=(redis.RedisError,))
