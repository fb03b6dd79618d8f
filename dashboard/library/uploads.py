"""Keeping stored uploads within bounds: how many a designer may add per minute, how
many drafts they keep, and removing photos nothing uses any more (rows and files).

A draft is an upload no job uses: the photos of a form that was not sent (a missing
slot, a refused file, an upstream failure) are kept so the designer never picks them
twice, but only the newest few per designer, and only for DRAFT_MAX_AGE_HOURS
(`manage.py prune_drafts`, from cron). Views and forms call these; they never name a
cache key.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError
from django.db.models import ProtectedError, QuerySet
from django.utils import timezone

from dashboard.core import display, images, ratelimit
from dashboard.models import InputImage

logger = logging.getLogger("dashboard.uploads")


def unread_refusal() -> str:
    """Why a file beyond UPLOADS_PER_REQUEST in one request was not even read."""
    most = settings.UPLOADS_PER_REQUEST
    return f"Not read: at most {most} new photos are read at once. Add this one again in another go."


def upload_refusal(designer, sizes: list[int]) -> str | None:
    """Count these new uploads against the designer's minute, or say why they are refused.

    A fixed one-minute window per designer in the cache (shared by every worker with
    REDIS_URL), as for jobs. Refused uploads are not counted: the designer may add
    them once the minute has passed.
    """
    count_limit, byte_limit = settings.UPLOADS_PER_MINUTE, settings.UPLOAD_BYTES_PER_MINUTE
    if not sizes or (count_limit <= 0 and byte_limit <= 0):
        return None
    count_minute = ratelimit.this_minute("upload-count", designer)
    bytes_minute = ratelimit.this_minute("upload-bytes", designer)
    count, total = ratelimit.add(count_minute, len(sizes)), ratelimit.add(bytes_minute, sum(sizes))
    over_count = count_limit > 0 and count > count_limit
    over_bytes = byte_limit > 0 and total > byte_limit
    if not (over_count or over_bytes):
        return None
    ratelimit.add(count_minute, -len(sizes))
    ratelimit.add(bytes_minute, -sum(sizes))
    wait = count_minute.seconds_left
    what = (
        f"{count_limit} photo{'s' if count_limit != 1 else ''}"
        if over_count
        else f"{display.describe_size(byte_limit)} of photos"
    )
    return (
        f"You have added {what} in the last minute, the most allowed. "
        f"Please wait {wait} second{'s' if wait != 1 else ''} and add it again; the rest of the form is kept."
    )


class UploadRefused(Exception):
    """An upload that is not kept; `message` says why, as the form would, and
    `over_limit` whether it was the designer's per-minute limits (try later) rather
    than the file itself (choose another)."""

    def __init__(self, message: str, *, over_limit: bool = False):
        super().__init__(message)
        self.message = message
        self.over_limit = over_limit


def checked(designer, upload: UploadedFile) -> images.ImageInfo:
    """One new upload counted against the designer's minute, then checked by content
    with the production limits, as the generate form checks its files; UploadRefused
    says why it may not be kept."""
    if refusal := upload_refusal(designer, [upload.size or 0]):
        raise UploadRefused(refusal, over_limit=True)
    try:
        return images.inspect_image(
            images.readable(upload), max_bytes=settings.UPLOAD_MAX_BYTES, max_pixels=settings.UPLOAD_MAX_PIXELS
        )
    except images.ImageRejected as exc:
        raise UploadRefused(exc.message) from exc


def bound_drafts(designer, keep: Iterable[InputImage] = ()) -> int:
    """Drop the designer's oldest drafts beyond DRAFTS_PER_DESIGNER or
    DRAFT_BYTES_PER_DESIGNER; those in `keep` (on the form being answered) always stay.
    How many were dropped."""
    keep_ids = {image.pk for image in keep}
    drafts = InputImage.objects.filter(owner=designer).drafts().order_by("-created_at", "-pk").values_list("pk", "size")
    # The form's own photos first, then the rest newest first.
    ordered = sorted(drafts, key=lambda row: row[0] not in keep_ids)
    count = total = 0
    doomed: list[int] = []
    for pk, size in ordered:
        if pk not in keep_ids and (
            doomed or count + 1 > settings.DRAFTS_PER_DESIGNER or total + size > settings.DRAFT_BYTES_PER_DESIGNER
        ):
            doomed.append(pk)
            continue
        count, total = count + 1, total + size
    return delete_unused(doomed)[0]


def delete_unused(image_ids: Iterable[int], *, among: Callable[[], QuerySet] | None = None) -> tuple[int, int]:
    """Delete these inputs, rows and files, if they are still among `among()` (by
    default drafts: uploads no job uses, not in the library): (how many, bytes).

    Safe beside other processes doing the same: each row is deleted only if it still
    qualifies (a job taking it meanwhile is refused by the PROTECT on its uses, and the
    row stays), and only the process whose DELETE removed the row removes its files.
    """
    candidates = among or InputImage.objects.drafts
    count = total = 0
    for pk in dict.fromkeys(image_ids):
        image = candidates().filter(pk=pk).first()
        if image is None:
            continue
        try:
            deleted, _ = candidates().filter(pk=pk).delete()
        except (IntegrityError, ProtectedError):  # a job took it up meanwhile: it stays
            continue
        if not deleted:  # another process got there first
            continue
        for name in (image.file.name, image.thumbnail.name):
            try:
                default_storage.delete(name)
            except OSError:
                logger.warning("could not remove the stored file %s of input %s", name, pk)
        count, total = count + 1, total + image.size
    return count, total


def prune_old_drafts(older_than: timedelta) -> tuple[int, int]:
    """Delete every draft older than this, rows and files: (how many, bytes)."""
    cutoff = timezone.now() - older_than
    stale = InputImage.objects.drafts().filter(created_at__lt=cutoff).order_by("pk").values_list("pk", flat=True)
    return delete_unused(list(stale))


# Large enough to fill an upload slot or a tray card sharply on a high-density screen.
THUMBNAIL_SIDE = 512


def store(owner, upload: UploadedFile, info: images.ImageInfo, *, kind: str = "") -> InputImage:
    """Keep an upload that passed its checks: metadata stripped, orientation applied,
    plus a small thumbnail; filed in the library under `kind` (the slot it came for)."""
    stem = uuid.uuid4().hex
    month = timezone.now().strftime("%Y/%m")
    thumbnail = images.make_thumbnail(images.readable(upload), info, max_side=THUMBNAIL_SIDE)
    # Streamed through a temporary file: a 20 MB photo is never held whole in memory.
    with tempfile.TemporaryFile() as sanitized:
        images.write_sanitized(images.readable(upload), info, sanitized)
        size = sanitized.tell()
        sanitized.seek(0)
        name = default_storage.save(f"inputs/{month}/{stem}{info.extension}", File(sanitized))
    thumbnail_name = default_storage.save(f"thumbnails/{month}/{stem}.webp", ContentFile(thumbnail))
    turned = info.orientation in (5, 6, 7, 8)  # these EXIF orientations swap the sides
    original_name = PurePath(upload.name or "image").name[:255]
    return InputImage.objects.create(
        owner=owner,
        file=name,
        thumbnail=thumbnail_name,
        original_name=original_name,
        name=(PurePath(original_name).stem or original_name)[:120],
        kind=kind,
        content_type=info.content_type,
        size=size,
        width=info.height if turned else info.width,
        height=info.width if turned else info.height,
    )
