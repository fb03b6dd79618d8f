"""The store of uploaded inputs (MEDIA_STORAGE: the local disk or an S3 bucket), as the
rest of the dashboard sees it.

Either backend raises one exception when the store cannot be read or written at all (S3
stopped or out of reach, its credentials or bucket refused, a failing disk):
StorageUnavailable. A file that is simply not there stays FileNotFoundError. So a view
tells "try again in a moment" from "this image is gone" without knowing which store is
configured or importing botocore, and `handler500` can answer any it missed with the
"image store is not answering" page rather than a bare 500.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.files.storage import FileSystemStorage, default_storage

# What the designer is told where they act; the same words on every page.
PHOTO_NOT_SAVED = "The image store is not answering; your photo was not saved, try again in a moment."
JOB_NOT_SENT = (
    "The image store is not answering, so the job was not sent: its photos could not be read. "
    "They stay attached; try again in a moment."
)
# How long a page asks a browser or a load balancer to wait before asking again.
RETRY_AFTER_SECONDS = 5


class StorageUnavailable(ConnectionError):
    """The image store did not answer, or refused: nothing was read or written; later may
    work. A ConnectionError (an OSError), so code that treats any failed read of a
    stored file as such goes on doing so."""


def clock() -> float:
    return time.monotonic()


# After the store could not be reached (refused, timed out), this process does not try it
# again for STORAGE_RETRY_SECONDS: a page of thumbnails would otherwise hold a thread per
# image for the timeouts each, and the other pages would wait for threads. /healthz
# asks the store itself (state()).
_not_tried_before = 0.0


def translating(
    method: Callable[..., Any],
    errors: tuple[type[BaseException], ...],
    unreachable: tuple[type[BaseException], ...] = (),
) -> Callable[..., Any]:
    """`method`, raising StorageUnavailable for `errors`, and at once, without trying,
    for a while after one of `unreachable`."""

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        global _not_tried_before
        if unreachable and clock() < _not_tried_before:
            raise StorageUnavailable("not tried: the image store could not be reached moments ago")
        try:
            return method(*args, **kwargs)
        except (FileNotFoundError, StorageUnavailable):
            raise
        except errors as exc:
            if isinstance(exc, unreachable):
                _not_tried_before = clock() + settings.STORAGE_RETRY_SECONDS
            raise StorageUnavailable(f"the image store failed: {type(exc).__name__}: {exc}") from exc

    return call


# Every storage method that reaches the store (url() does not: it only signs).
_REACHING = ("_open", "_save", "delete", "exists", "listdir", "size", "get_modified_time")


def translate_errors(
    cls: type, errors: tuple[type[BaseException], ...], unreachable: tuple[type[BaseException], ...] = ()
) -> type:
    for name in _REACHING:
        setattr(cls, name, translating(getattr(cls, name), errors, unreachable))
    return cls


class LocalMediaStorage(FileSystemStorage):
    """Django's file system storage (MEDIA_STORAGE=local); a failing disk is StorageUnavailable.
    (MEDIA_STORAGE=s3 is dashboard/core/s3storage.py, loaded only then: boto3 is an extra.)"""

    def answers(self) -> bool:
        """Whether uploads can be written: MEDIA_ROOT, or the folder it will be made in."""
        folder = Path(self.location)
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


translate_errors(LocalMediaStorage, (OSError,))


def state() -> str:
    """What /healthz says of the store: "ok" or "unavailable", asked at most once per
    HEALTHZ_CACHE_SECONDS by all web processes together (as the API's probe is: shared
    through the cache, and kept in each process's memory too). With the store hung its
    HEAD waits the timeouts (2 × STORAGE_READ_TIMEOUT, 10 s): a load balancer probing
    every few seconds would otherwise hold a thread that long for each probe."""
    answers = getattr(default_storage, "answers", None)
    if answers is None:  # a store configured by other means is not judged
        return "ok"
    seconds = settings.HEALTHZ_CACHE_SECONDS
    key, local = f"storage-health:{_store_name()}", caches["local"]
    found = local.get(key)
    if found is None:
        found = cache.get_or_set(key, lambda: "ok" if answers() else "unavailable", seconds)
        local.set(key, found, seconds)
    return found


def _store_name() -> str:
    """Which store the answer is about: two deployments (or tests) on one cache each ask their own."""
    where = f"{type(default_storage).__name__}:{getattr(default_storage, 'bucket_name', '')}"
    where += f":{getattr(default_storage, 'endpoint_url', '') or ''}:{getattr(default_storage, 'location', '')}"
    return hashlib.sha256(where.encode()).hexdigest()[:16]
