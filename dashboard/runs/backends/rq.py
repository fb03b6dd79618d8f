"""The RQ task backend (django-tasks-rq, on the deployment's Redis): its worker, and the
backend itself as Django's tasks API expects it."""

from __future__ import annotations

import sys

import django_rq
from django.conf import settings
from django.tasks.exceptions import TaskResultDoesNotExist
from django_tasks.exceptions import TaskResultDoesNotExist as BackportTaskResultDoesNotExist
from django_tasks_rq import RQBackend as BackportRQBackend
from rq.logutils import setup_loghandlers

from dashboard.runs.backends import WorkerLoop


class RQBackend(BackportRQBackend):
    """django-tasks-rq is written for the django-tasks backport, and raises its exception
    for a task it does not know; callers of Django's own tasks API catch Django's."""

    def get_result(self, result_id: str):
        try:
            return super().get_result(result_id)
        except BackportTaskResultDoesNotExist as exc:
            raise TaskResultDoesNotExist(result_id) from exc


def work(name: str, *, interval: float, startup_delay: bool, verbosity: int) -> None:
    """RQ's worker (settings.RQ: SimpleWorker, django-tasks-rq's jobs) under our name, the
    one its tasks' results give as theirs. It waits on Redis for a task, so `interval`
    and `startup_delay` have nothing to do; it retries a Redis that went away itself."""
    level = "DEBUG" if verbosity >= 2 else "WARNING" if verbosity == 0 else "INFO"
    setup_loghandlers(level)
    worker = django_rq.get_worker(*settings.TASK_QUEUES, name=name)
    # The line db_worker starts with, for whoever waits for a worker to be up.
    sys.stdout.write(f"Starting worker {name} for queues {','.join(settings.TASK_QUEUES)}\n")
    sys.stdout.flush()
    # with_scheduler: tasks deferred to a later time (run_after) wait in RQ's scheduler.
    worker.work(with_scheduler=True, logging_level=level)


# RQ cleans its own registries of a dead worker's jobs: nothing more to tidy.
LOOP = WorkerLoop(work=work, store_errors=(), tidy=None)
