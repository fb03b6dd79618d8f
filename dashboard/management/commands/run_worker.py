"""The deployment's background worker (the Procfile's `worker`): runs the task backend's
own worker loop (TASKS_BACKEND's: dashboard/runs/backends/), and beside it the heartbeat
that lets the other workers take over this one's work if it dies
(dashboard/runs/workers.py).

A store that goes away (PostgreSQL restarted, for the database backend) stops the
backend's loop with an error; this command waits and starts the loop again, in the same
process and under a new name, so the worker is back as soon as the store is, without
anything restarting it, and what the outage broke under the former name is taken over as
a dead worker's.
"""

import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from dashboard.runs import workers
from dashboard.runs.backends import worker_loop

logger = logging.getLogger("dashboard.runs")

# After the store failed the worker's loop: the first wait, doubled up to the last.
RETRY_SECONDS = (0.5, 1, 2)


class Command(BaseCommand):
    help = "Run the background worker that sends matrix runs (the Procfile's worker process)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1, help="seconds between looks for a task when idle")
        parser.add_argument("--no-startup-delay", action="store_true", help="start looking at once (tests)")
        parser.add_argument("--worker-id", default="", help="a unique name (default: host:pid:random)")

    def handle(self, *args, interval=1, no_startup_delay=False, worker_id="", **options):
        loop = worker_loop(settings.TASKS_BACKEND)
        name = worker_id or workers.new_name()
        heart = workers.Heart(name, also=loop.tidy)
        heart.start()
        failures = 0
        try:
            while True:
                try:
                    loop.work(
                        name,
                        interval=interval,
                        startup_delay=not no_startup_delay and failures == 0,
                        verbosity=options["verbosity"],
                    )
                    return  # asked to stop (SIGTERM between tasks ends it)
                except loop.store_errors as exc:
                    wait = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                    failures += 1
                    logger.warning("worker %s: its store failed (%s); starting again in %s s", name, exc, wait)
                    close_old_connections()
                    time.sleep(wait)
                    name = workers.new_name()
                    heart.new_life(name)
        finally:
            heart.stop()
