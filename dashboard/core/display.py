"""How values read to a designer, in one place: ages, exact times, sizes.

Templates reach these through the filters in templatetags/dashboard_tags.py; Python
code (messages, file names) calls them directly. Status labels are `genapi.Status`'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.timesince import timesince
from django.utils.translation import ngettext_lazy

# Django's own units, with "min" for minutes: a card has little room.
AGE_UNITS = {
    "year": ngettext_lazy("%(num)d year", "%(num)d years", "num"),
    "month": ngettext_lazy("%(num)d month", "%(num)d months", "num"),
    "week": ngettext_lazy("%(num)d week", "%(num)d weeks", "num"),
    "day": ngettext_lazy("%(num)d day", "%(num)d days", "num"),
    "hour": ngettext_lazy("%(num)d hour", "%(num)d hours", "num"),
    "minute": ngettext_lazy("%(num)d min", "%(num)d min", "num"),
}
EXACT_TIME_FORMAT = "j M Y, H:i"
FILE_NAME_TIME_FORMAT = "Y-m-d-Hi"


def age(value: datetime | None) -> str:
    """A short, calm age: "just now", "3 min ago", "2 days ago" (one unit only)."""
    if value is None:
        return ""
    if (timezone.now() - value).total_seconds() < 60:
        return "just now"
    # Lazy translations, like Django's own TIME_STRINGS (its stubs say plain str).
    return f"{timesince(value, time_strings=cast(dict[str, str], AGE_UNITS), depth=1)} ago"


def elapsed(value: datetime | None) -> str:
    """How long a running job has run: "12 s", "3 min 5 s", "1 h 4 min". core.js's
    elapsedText() keeps counting between polls by the same rule."""
    if value is None:
        return ""
    return duration(value, timezone.now())


def duration(start: datetime | None, end: datetime | None) -> str:
    """How long something took, by the same rule as elapsed(); "" when either end is unknown."""
    if start is None or end is None:
        return ""
    seconds = max(0, round((end - start).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min {seconds % 60} s"
    return f"{minutes // 60} h {minutes % 60} min"


def exact_time(value: datetime | None) -> str:
    """The full local date and time, for hover titles and details: "3 Mar 2026, 14:05"."""
    return date_format(timezone.localtime(value), EXACT_TIME_FORMAT) if value else ""


def file_name_time(value: datetime | None) -> str:
    return date_format(timezone.localtime(value), FILE_NAME_TIME_FORMAT) if value else ""


_SIZE_UNITS = ((1024**3, "GB"), (1024**2, "MB"), (1024, "KB"))


def describe_size(num_bytes: int, *, round_up: bool = False) -> str:
    """A short human size: "20 MB", "1.5 KB", "12 bytes" (1 KB = 1024 bytes).

    `round_up` for a size measured against a limit: 20.01 MB reads "20.1 MB", never the
    "20 MB" that would look allowed. static/js/core.js writes sizes the same way."""
    for unit_bytes, unit in _SIZE_UNITS:
        if num_bytes >= unit_bytes:
            return f"{one_decimal(num_bytes, unit_bytes, round_up=round_up)} {unit}"
    return "1 byte" if num_bytes == 1 else f"{num_bytes} bytes"


def one_decimal(value: int, unit: int, *, round_up: bool = False) -> str:
    """value / unit with at most one decimal, computed exactly on integers."""
    tenths = -(-value * 10 // unit) if round_up else (value * 10 + unit // 2) // unit
    whole, tenth = divmod(tenths, 10)
    return f"{whole}.{tenth}" if tenth else str(whole)
