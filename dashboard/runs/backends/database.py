"""The database task backend (django-tasks-db): its worker, `db_worker`, and its rows of
tasks that died with their worker."""

from __future__ import annotations

from django.core.management import call_command
from django.db import DatabaseError
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from dashboard.runs import workers
from dashboard.runs.backends import WorkerLoop


def work(name: str, *, interval: float, startup_delay: bool, verbosity: int) -> None:
    call_command(
        "db_worker",
        worker_id=name,
        interval=interval,
        reload=False,
        startup_delay=startup_delay,
        verbosity=verbosity,
    )


def fail_orphaned_task_rows(living: set[str]) -> int:
    """The database backend's rows of tasks that died with their worker stay "running" for
    good: marked failed, saying why (their cells were enqueued again by workers.tend)."""
    quiet_since = timezone.now() - workers.dead_after()
    running = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=quiet_since)
    orphaned = [row.pk for row in running.only("pk", "worker_ids") if not set(row.worker_ids[-1:]) & living]
    return DBTaskResult.objects.filter(pk__in=orphaned, status=TaskResultStatus.RUNNING).update(
        status=TaskResultStatus.FAILED,
        finished_at=timezone.now(),
        exception_class_path="dashboard.runs.workers.WorkerDied",
        traceback="The worker running this task stopped without finishing it.",
    )


# A database that goes away (PostgreSQL restarted) stops db_worker with an error.
# Its store is the database itself: a request that cannot reach it fails whole (the 503
# page), and a database error caught inside a transaction would leave it unusable.
LOOP = WorkerLoop(work=work, store_errors=(DatabaseError,), tidy=fail_orphaned_task_rows, unreachable=())
