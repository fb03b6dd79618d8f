"""Delete drafts (uploads no job uses) older than DRAFT_MAX_AGE_HOURS: rows and files.
It also forgets the one-time tokens of forms sent more than a day ago.

Meant for cron, e.g. hourly. Safe to run on several machines at once: each draft is
deleted only if it is still unused, and only by the run whose DELETE removed its row.
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from dashboard.core import display, tokens
from dashboard.library import uploads


class Command(BaseCommand):
    help = "Delete drafts (uploads no job uses) older than DRAFT_MAX_AGE_HOURS, rows and files."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-hours",
            type=float,
            default=None,
            help=f"age in hours (default DRAFT_MAX_AGE_HOURS, now {settings.DRAFT_MAX_AGE_HOURS:g})",
        )

    def handle(self, *args, older_than_hours=None, **options):
        hours = settings.DRAFT_MAX_AGE_HOURS if older_than_hours is None else older_than_hours
        count, size = uploads.prune_old_drafts(timedelta(hours=hours))
        self.stdout.write(f"Removed {count} draft{'s' if count != 1 else ''} ({display.describe_size(size)}).")
        forgotten = tokens.forget_old()
        self.stdout.write(
            f"Forgot {forgotten} one-time form token{'s' if forgotten != 1 else ''} older than {tokens.KEPT_DAYS} day."
        )
