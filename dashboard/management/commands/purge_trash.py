"""Delete upstream the results that have been in the trash longer than TRASH_DAYS.

Meant for cron, e.g. hourly. Safe to run on several machines at once: each trashed
result is locked (`select_for_update(skip_locked=True)`) while it is deleted, so two runs
never work on the same one (see dashboard/trash/services.py).
"""

from django.conf import settings
from django.core.management.base import BaseCommand

from dashboard.trash import services as trash


class Command(BaseCommand):
    help = "Delete upstream the results in the trash for longer than TRASH_DAYS."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-days",
            type=float,
            default=None,
            help=f"age in days (default TRASH_DAYS, now {settings.TRASH_DAYS:g})",
        )

    def handle(self, *args, older_than_days=None, **options):
        done, failed = trash.purge_expired(older_than_days)
        self.stdout.write(f"Deleted {done} result{'s' if done != 1 else ''} from the trash.")
        for item_id, reason in failed:
            # Left in the trash: the next run tries again.
            self.stderr.write(f"Could not delete {item_id}: {reason}")
