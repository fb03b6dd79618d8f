"""Delete library images that no job ever used, older than LIBRARY_UNUSED_DAYS: rows and files.

Meant for cron, e.g. daily. Safe to run on several machines at once: each image is
deleted only if it is still unused, and only by the run whose DELETE removed its row.
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from dashboard.core import display
from dashboard.library import services as library


class Command(BaseCommand):
    help = "Delete library images no job ever used, older than LIBRARY_UNUSED_DAYS, rows and files."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-days",
            type=float,
            default=None,
            help=f"age in days (default LIBRARY_UNUSED_DAYS, now {settings.LIBRARY_UNUSED_DAYS:g})",
        )

    def handle(self, *args, older_than_days=None, **options):
        days = settings.LIBRARY_UNUSED_DAYS if older_than_days is None else older_than_days
        removed, size = library.prune_unused(timedelta(days=days))
        for name in removed:
            self.stdout.write(f"Removed {name}")
        count = len(removed)
        self.stdout.write(
            f"Removed {count} unused library image{'s' if count != 1 else ''} ({display.describe_size(size)})."
        )
