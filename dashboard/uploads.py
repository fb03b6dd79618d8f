"""Keeping stored uploads within bounds: how many a designer may add per minute.

Views and forms call these; they never name a cache key.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

from dashboard import display

WINDOW_SECONDS = 60


def _add(key: str, amount: int) -> int:
    """Add to a counter that lives a little longer than its window; the new total."""
    cache.add(key, 0, timeout=WINDOW_SECONDS + 10)
    try:
        return cache.incr(key, amount)
    except ValueError:  # evicted between add and incr
        cache.set(key, amount, timeout=WINDOW_SECONDS + 10)
        return amount


def upload_refusal(designer, sizes: list[int]) -> str | None:
    """Count these new uploads against the designer's minute, or say why they are refused.

    A fixed one-minute window per designer in the cache (shared by every worker with
    REDIS_URL), as for jobs. Refused uploads are not counted: the designer may add
    them once the minute has passed.
    """
    count_limit, byte_limit = settings.UPLOADS_PER_MINUTE, settings.UPLOAD_BYTES_PER_MINUTE
    if not sizes or (count_limit <= 0 and byte_limit <= 0):
        return None
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    count_key, bytes_key = f"upload-count:{designer.pk}:{window}", f"upload-bytes:{designer.pk}:{window}"
    count, total = _add(count_key, len(sizes)), _add(bytes_key, sum(sizes))
    over_count = count_limit > 0 and count > count_limit
    over_bytes = byte_limit > 0 and total > byte_limit
    if not (over_count or over_bytes):
        return None
    _add(count_key, -len(sizes))
    _add(bytes_key, -sum(sizes))
    wait = max(1, int(WINDOW_SECONDS - now % WINDOW_SECONDS))
    what = (
        f"{count_limit} photo{'s' if count_limit != 1 else ''}"
        if over_count
        else f"{display.describe_size(byte_limit)} of photos"
    )
    return (
        f"You have added {what} in the last minute, the most allowed. "
        f"Please wait {wait} second{'s' if wait != 1 else ''} and add it again; the rest of the form is kept."
    )
