from datetime import datetime

from django.utils import timezone
from django.utils.timesince import timesince


def short_age(value: datetime) -> str:
    """A short, calm age: "just now", "3 min ago", "2 days ago" (one unit only)."""
    if (timezone.now() - value).total_seconds() < 60:
        return "just now"
    return f"{timesince(value, depth=1)} ago".replace("minutes", "min").replace("minute", "min")
