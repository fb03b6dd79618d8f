"""The product's own logic around jobs: keeping inputs, sending jobs, cheap status polling.

Views stay thin by calling these; only genapi speaks to the upstream.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from pathlib import PurePath

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from dashboard import genapi, images, uploads
from dashboard.models import InputImage, Job, JobInput
from dashboard.slots import Slot

logger = logging.getLogger("dashboard.jobs")

# Large enough to fill an upload slot or a tray card sharply on a high-density screen.
THUMBNAIL_SIDE = 512


def store_input(owner, upload: UploadedFile, info: images.ImageInfo) -> InputImage:
    """Keep an upload: metadata stripped, orientation applied, plus a small thumbnail."""
    stem = uuid.uuid4().hex
    month = timezone.now().strftime("%Y/%m")
    thumbnail = images.make_thumbnail(upload, info, max_side=THUMBNAIL_SIDE)
    # Streamed through a temporary file: a 20 MB photo is never held whole in memory.
    with tempfile.TemporaryFile() as sanitized:
        images.write_sanitized(upload, info, sanitized)
        size = sanitized.tell()
        sanitized.seek(0)
        name = default_storage.save(f"inputs/{month}/{stem}{info.extension}", File(sanitized))
    thumbnail_name = default_storage.save(f"thumbnails/{month}/{stem}.webp", ContentFile(thumbnail))
    turned = info.orientation in (5, 6, 7, 8)  # these EXIF orientations swap the sides
    return InputImage.objects.create(
        owner=owner,
        file=name,
        thumbnail=thumbnail_name,
        original_name=PurePath(upload.name or "image").name[:255],
        content_type=info.content_type,
        size=size,
        width=info.height if turned else info.width,
        height=info.width if turned else info.height,
    )


def send_job(
    designer,
    *,
    tool: str,
    tool_title: str,
    inputs: Sequence[tuple[Slot, InputImage]],
    style: genapi.Style | None = None,
) -> Job:
    """Create one upstream job from stored inputs, and remember it. Never retried."""
    with ExitStack() as stack:
        files = [
            genapi.UploadFile(
                slot=slot.name,
                # The designer's own file names stay here; upstream sees neutral ones.
                filename=f"{slot.name}{PurePath(image.file.name).suffix}",
                fileobj=stack.enter_context(default_storage.open(image.file.name, "rb")),
                content_type=image.content_type,
            )
            for slot, image in inputs
        ]
        created = genapi.create_job(tool, files, style_id=style.id if style else None)
    try:
        return _remember_job(created, designer, tool, tool_title, inputs, style)
    except Exception:
        # The job exists (and is billed) upstream: make sure its id is not lost.
        logger.exception("job %s was created upstream but could not be recorded", created.history_item_id)
        raise


def _remember_job(created, designer, tool, tool_title, inputs, style) -> Job:
    with transaction.atomic():
        # update_or_create: an upstream that reuses an id must not turn into an error page.
        job, _ = Job.objects.update_or_create(
            history_item_id=created.history_item_id,
            defaults=dict(
                designer=designer,
                tool=tool,
                tool_title=tool_title,
                style_id=style.id if style else "",
                style_title=style.title if style else "",
                status=Job.Status.PENDING,
                error_message="",
                finished_at=None,
            ),
        )
        job.inputs.all().delete()
        JobInput.objects.bulk_create(
            JobInput(job=job, slot=slot.name, label=slot.label, image=image, position=position)
            for position, (slot, image) in enumerate(inputs)
        )
    logger.info("job %s created by %s with %s", job.history_item_id, designer.pk, tool)
    return job


def rerun(job: Job, designer) -> Job:
    """The same tool, style and input images, as a new job."""
    inputs = [
        (Slot(name=entry.slot, label=entry.label), entry.image)
        for entry in job.inputs.select_related("image")
    ]
    style = genapi.Style(id=job.style_id, title=job.style_title, tool=job.tool) if job.style_id else None
    return send_job(designer, tool=job.tool, tool_title=job.tool_title, inputs=inputs, style=style)


def refresh(pending_ids: Iterable[str]) -> dict[str, genapi.HistoryItem | None]:
    """The current state of jobs believed to be running, at O(1) upstream cost per tick.

    The `status=pending` listing (shared by every poll for a moment, see
    `genapi.running`) tells which are still running; only the jobs that left it get a
    detail read (statuses flip once, so each job costs one read in its life).
    None means the item no longer exists upstream.
    """
    wanted = list(dict.fromkeys(i for i in pending_ids if genapi.is_valid_id(i)))
    if not wanted:
        return {}
    running = genapi.running()
    found: dict[str, genapi.HistoryItem | None] = {}
    for item_id in wanted:
        if item_id in running:
            found[item_id] = running[item_id]
            continue
        try:
            found[item_id] = genapi.item(item_id)
        except genapi.NotFound:
            found[item_id] = None
    _record(found)
    return found


def _record(found: dict[str, genapi.HistoryItem | None]) -> None:
    """Mirror finished statuses onto our Job rows; forget jobs deleted upstream (and
    the inputs no other job uses)."""
    gone = [item_id for item_id, item in found.items() if item is None]
    if gone:
        uploads.forget_jobs(Job.objects.filter(history_item_id__in=gone))
    for item_id, item in found.items():
        if item is None or item.is_pending:
            continue
        Job.objects.filter(history_item_id=item_id, status=Job.Status.PENDING).update(
            status=item.status,
            error_message=item.error_message or "",
            finished_at=timezone.now(),
        )


def seconds_until_allowed(designer) -> int:
    """0 when the designer may send another job now; else how long to wait.

    A fixed one-minute window per designer, counted in the cache: shared by every
    worker with REDIS_URL, per worker process without it.
    """
    limit = settings.JOB_RATE_LIMIT_PER_MINUTE
    if limit <= 0:
        return 0
    now = time.time()
    key = f"job-rate:{designer.pk}:{int(now // 60)}"
    cache.add(key, 0, timeout=70)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=70)
        count = 1
    if count <= limit:
        return 0
    return max(1, int(60 - now % 60))
