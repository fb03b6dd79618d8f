"""Keep the index of the team's history current: the deployment's `sync` process.

Run one (or more: only the lease holder calls the upstream) beside the web processes;
`--once` reads everything at once and exits (a first look, a cron without a process).
"""

import signal
import threading

from django.core.management.base import BaseCommand

from dashboard.index import status, sync


class Command(BaseCommand):
    help = "Keep the index of the team's history current (the Procfile's sync process)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="read everything once, then exit")

    def handle(self, *args, once=False, **options):
        if once:
            sync.catch_up()
            self.stdout.write(status.current().sentence)
            return
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        sync.run(stop)
