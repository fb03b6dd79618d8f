"""The deployment's background worker (the Procfile's `worker`): runs the task backend's
own worker loop, and beside it the heartbeat that lets the other workers take over this
one's work if it dies (dashboard/runs/workers.py).

A database that goes away (PostgreSQL restarted) stops the backend's loop with an
error; this command waits and starts the loop again, in the same process and under a
new name, so the worker is back as soon as the database is, without anything restarting
it, and what the outage broke under the former name is taken over as a dead worker's.
"""

import logging
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections
from django.tasks import TaskResultStatus, task_backends
from django.utils import timezone
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from dashboard.runs import workers

logger = logging.getLogger("dashboard.runs")

# After the database failed the worker's loop: the first wait, doubled up to the last.
RETRY_SECONDS = (0.5, 1, 2)


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


class Command(BaseCommand):
    help = "Run the background worker that sends matrix runs (the Procfile's worker process)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1, help="seconds between looks for a task when idle")
        parser.add_argument("--no-startup-delay", action="store_true", help="start looking at once (tests)")
        parser.add_argument("--worker-id", default="", help="a unique name (default: host:pid:random)")

    def handle(self, *args, interval=1, no_startup_delay=False, worker_id="", **options):
        backend = task_backends["default"]
        if not isinstance(backend, DatabaseBackend):
            raise CommandError(f"run_worker runs the database task backend's worker; TASKS names {settings.TASKS}.")
        name = worker_id or workers.new_name()
        heart = workers.Heart(name, also=fail_orphaned_task_rows)
        heart.start()
        failures = 0
        try:
            while True:
                try:
                    call_command(
                        "db_worker",
                        worker_id=name,
                        interval=interval,
                        reload=False,
                        startup_delay=not no_startup_delay and failures == 0,
                        verbosity=options["verbosity"],
                    )
                    return  # asked to stop (SIGTERM between tasks ends it with SystemExit)
                except DatabaseError as exc:
                    wait = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                    failures += 1
                    logger.warning("worker %s: the database failed (%s); starting again in %s s", name, exc, wait)
                    close_old_connections()
                    time.sleep(wait)
                    name = workers.new_name()
                    heart.new_life(name)
        finally:
            heart.stop()
