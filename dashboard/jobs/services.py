"""Jobs: sending one upstream (once per form), recording it with its inputs, following
its status cheaply, and forgetting it once it is gone upstream.

The only code that writes `Job` rows. Generate, runs, the gallery, the trash and
downloads call these; only genapi speaks to the upstream.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from datetime import timedelta
from pathlib import PurePath

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from dashboard import genapi
from dashboard.core import audit, ratelimit, tokens
from dashboard.core.slots import Slot
from dashboard.index import services as index
from dashboard.library import services as library
from dashboard.library import uploads
from dashboard.models import InputImage, Job, JobInput

logger = logging.getLogger("dashboard.jobs")


def send_job(
    designer,
    *,
    tool: str,
    tool_title: str,
    inputs: Sequence[tuple[Slot, InputImage]],
    token: str,
    style: genapi.Style | None = None,
    rerun_of: str = "",
) -> Job:
    """Create one upstream job from stored inputs, and remember it. Never retried.

    The form's one-time token is claimed first (a database row with a unique
    constraint, so it holds across workers): a second request with the same token
    raises AlreadySent and sends nothing. When the upstream refuses, or cannot be
    reached, the claim is given back: nothing was made, and the designer may send
    the same form again. The run (or run again, from `rerun_of`) goes in the audit
    trail with its outcome.
    """
    action = audit.Action.RERUN if rerun_of else audit.Action.RUN
    claim = tokens.claim(designer, token)
    try:
        created = create_upstream(tool, inputs, style)
    except BaseException as exc:
        claim.given_back()
        if isinstance(exc, genapi.GenApiError):
            audit.record(designer, action, source_item_id=rerun_of, problem=exc.message)
        raise
    try:
        job = remember_job(created, designer, tool, tool_title, inputs, style)
    except Exception:
        # The job exists (and is billed) upstream: make sure its id is not lost.
        logger.exception("job %s was created upstream but could not be recorded", created.history_item_id)
        raise
    claim.fulfilled(job=job)
    audit.record(designer, action, job.history_item_id, source_item_id=rerun_of)
    return job


def create_upstream(
    tool: str, inputs: Sequence[tuple[Slot, InputImage]], style: genapi.Style | None
) -> genapi.JobCreated:
    """One job creation upstream, the stored photos streamed from storage. Never retried."""
    with ExitStack() as stack:
        files = [
            genapi.UploadFile(
                slot=slot.name,
                # The designer's own file names stay here; upstream sees neutral ones.
                filename=f"{slot.name}{PurePath(str(image.file)).suffix}",
                fileobj=stack.enter_context(default_storage.open(str(image.file), "rb")),
                content_type=image.content_type,
            )
            for slot, image in inputs
        ]
        return genapi.create_job(tool, files, style_id=style.id if style else None)


def remember_job(created, designer, tool, tool_title, inputs, style, *, run=None) -> Job:
    """Record a job the upstream just made, with its inputs (and the run that sent it)."""
    with transaction.atomic():
        # update_or_create: an upstream that reuses an id must not turn into an error page.
        job, _ = Job.objects.update_or_create(
            history_item_id=created.history_item_id,
            defaults={
                "designer": designer,
                "tool": tool,
                "tool_title": tool_title,
                "style_id": style.id if style else "",
                "style_title": style.title if style else "",
                "status": Job.Status.PENDING,
                "error_message": "",
                "finished_at": None,
                "run": run,
            },
        )
        job.inputs.all().delete()
        JobInput.objects.bulk_create(
            JobInput(job=job, slot=slot.name, label=slot.label, image=image, position=position)
            for position, (slot, image) in enumerate(inputs)
        )
        library.file_in_library(image for _, image in inputs)
        index.record_created(job)
    logger.info("job %s created by %s with %s", job.history_item_id, designer.pk, tool)
    return job


class NotPickable(Exception):
    """A job's input images include some the designer may not use (library.pickable)."""

    def __init__(self, labels: list[str]):
        self.labels = labels
        super().__init__(", ".join(labels))


def rerun(job: Job, designer, *, token: str) -> Job:
    """The same tool, style and input images, as a new job (once per token): only when
    the designer may still pick every one of them (a teammate's private or archived image
    is not theirs to send, whoever sent it first)."""
    inputs = [(Slot(name=entry.slot, label=entry.label), entry.image) for entry in job.inputs.select_related("image")]
    chosen = [image.pk for _, image in inputs]
    allowed = set(library.pickable(designer).filter(pk__in=chosen).values_list("pk", flat=True))
    if refused := [slot.label for slot, image in inputs if image.pk not in allowed]:
        raise NotPickable(refused)
    style = genapi.Style(id=job.style_id, title=job.style_title, tool=job.tool) if job.style_id else None
    return send_job(
        designer,
        tool=job.tool,
        tool_title=job.tool_title,
        inputs=inputs,
        style=style,
        token=token,
        rerun_of=job.history_item_id,
    )


def delete_result(designer, item_id: str, *, bulk: bool = False) -> None:
    """Delete upstream (gone already counts as deleted), then our own record of it and
    the input photos no other job uses; record who did (and whether it worked)."""
    try:
        genapi.delete(item_id)
    except genapi.GenApiError as exc:
        audit.record(designer, audit.Action.DELETE, item_id, bulk=bulk, problem=exc.message)
        raise
    forget(Job.objects.filter(history_item_id=item_id))
    index.forget([item_id])
    audit.record(designer, audit.Action.DELETE, item_id, bulk=bulk)


def record_seen(items: Iterable[genapi.HistoryItem]) -> None:
    """The upstream has just shown these results (the sync process): jobs made here
    learn their end (status, error, when), and one the upstream had lost sight of is
    seen again (its grace ends)."""
    now = timezone.now()
    shown = {item.id: item for item in items}
    Job.objects.filter(history_item_id__in=list(shown), missing_since__isnull=False).update(missing_since=None)
    finished = [item_id for item_id, item in shown.items() if not item.is_pending]
    # One query finds the jobs that end now; the rest of a page (most of it) costs nothing.
    ending = Job.objects.filter(history_item_id__in=finished, status=Job.Status.PENDING)
    for item in [shown[item_id] for item_id in ending.values_list("history_item_id", flat=True)]:
        Job.objects.filter(history_item_id=item.id, status=Job.Status.PENDING).update(
            status=item.status,
            error_message=item.error_message or "",
            finished_at=index.finished_at(item) or now,
        )


def not_found(item_ids: Iterable[str]) -> set[str]:
    """The one rule for "gone upstream": the upstream answered that it does not know
    these results. Which of them count as gone (their records are then forgotten, with
    the inputs no other job uses).

    A job made here is kept for MISSING_JOB_GRACE_SECONDS after the first such answer (a
    listing or a replica can lag behind a job just made, and one bad answer must not
    lose a billed job's record); a result the dashboard never recorded is gone at once."""
    ids = list(dict.fromkeys(item_ids))
    now = timezone.now()
    ours = Job.objects.filter(history_item_id__in=ids)
    ours.filter(missing_since__isnull=True).update(missing_since=now)
    grace_over = now - timedelta(seconds=settings.MISSING_JOB_GRACE_SECONDS)
    missing_since = dict(ours.values_list("history_item_id", "missing_since"))
    gone = {item_id for item_id in ids if (since := missing_since.get(item_id)) is None or since <= grace_over}
    forget(Job.objects.filter(history_item_id__in=gone))
    index.forget(gone)
    return gone


def forget(jobs: QuerySet[Job]) -> None:
    """Delete these Job rows, and the inputs (rows and files) no remaining job uses."""
    image_ids = list(InputImage.objects.filter(uses__job__in=jobs).values_list("pk", flat=True))
    jobs.delete()
    uploads.delete_unused(image_ids)


def seconds_until_allowed(designer) -> int:
    """0 when the designer may send another job now; else how long to wait."""
    limit = settings.JOB_RATE_LIMIT_PER_MINUTE
    if limit <= 0:
        return 0
    minute = ratelimit.this_minute("job-rate", designer)
    return 0 if ratelimit.add(minute, 1) <= limit else minute.seconds_left
