"""How often a page that shows running jobs asks for news: every few seconds while they
are young, less often once they have run a while (the tray, the run page)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

FAST_POLL_SECONDS = 2
SLOW_POLL_SECONDS = 5
SLOW_DOWN_AFTER_SECONDS = 30
# An open gallery's news (results added above it, its cards changed by teammates) without
# push: seldom, since nothing on the page waits for it.
NEWS_POLL_SECONDS = 30


def poll_seconds(last_activity: datetime) -> int:
    """Seconds between polls, given when the oldest still-running thing started (or the
    latest thing happened)."""
    young = (timezone.now() - last_activity).total_seconds() < SLOW_DOWN_AFTER_SECONDS
    return FAST_POLL_SECONDS if young else SLOW_POLL_SECONDS
