"""The index of the team's history: the only code that writes `IndexedResult` rows.

Rows come from what the upstream says (the sync process's listings and reads,
dashboard/index/sync.py) and from what the upstream has just confirmed here (a job
made, a rating stored, a result deleted). What the dashboard keeps beside each result
(who made it, its run, the trash, the review) is copied onto its row by the service
that changes it, through the functions below, so every filter is one query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.dispatch import Signal
from django.utils import timezone

from dashboard import genapi
from dashboard.core.catalogue import Catalogue
from dashboard.models import IndexedResult, InputImage, Job, Review, Run, SyncState, TrashedResult

Rating = IndexedResult.Rating


def rating_of(like: bool | None, review: Review | None) -> str:
    """The rating a designer sees (the upstream's like, unless cleared here), as a filter value."""
    shown = review.like_shown(like) if review else like
    return {True: Rating.LIKED, False: Rating.DISLIKED, None: Rating.UNRATED}[shown]


def like_of(rating: str) -> bool | None:
    """The like a designer sees, by a row's rating."""
    return {Rating.LIKED: True, Rating.DISLIKED: False}.get(Rating(rating) if rating else Rating.UNRATED)


def as_item(row: IndexedResult) -> genapi.HistoryItem:
    """The row as the history item the pages draw (the same value genapi hands out)."""
    return genapi.HistoryItem(
        id=row.history_item_id,
        status=genapi.Status(row.status),
        raw_status=row.raw_status or row.status,
        tool=row.tool or None,
        style_id=row.style_id or None,
        created_at=row.created_at,
        preview_path=row.preview_path or None,
        stock_path=row.stock_path or None,
        like=row.like,
        error_message=row.error_message or None,
        extra=dict(row.extra or {}),
    )


def finished_at(item: genapi.HistoryItem) -> datetime | None:
    """When a result ended, if the upstream says (`finished_at`, outside the contract)."""
    raw = item.extra.get("finished_at")
    if not isinstance(raw, str):
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@dataclass
class Seen:
    """What a change to the index changed: the results added, changed, forgotten."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    # Results whose status left "running": their jobs' records follow.
    finished: list[genapi.HistoryItem] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def touched(self) -> int:
        return len(self.added) + len(self.changed)


# Every change to the index's rows is announced here once committed, with `seen` (a
# Seen): the sync's status changes as it sees them, and what designers do here. A
# publisher connects a receiver (`changed.connect(publish)`) and nothing else changes;
# a receiver that fails is logged and the change stands (send_robust).
changed = Signal()


# The fields the upstream decides; a row is rewritten only when one of them changed.
UPSTREAM_FIELDS = (
    "tool",
    "style_id",
    "status",
    "raw_status",
    "created_at",
    "like",
    "preview_path",
    "stock_path",
    "error_message",
    "extra",
)


def _upstream_values(item: genapi.HistoryItem, known: Catalogue) -> dict:
    return {
        "tool": known.tool_of(item) if known.tools else (item.tool or ""),
        "style_id": item.style_id or "",
        "status": item.status.value,
        "raw_status": item.raw_status[:64],
        "created_at": item.created_at,
        "like": item.like,
        "preview_path": (item.preview_path or "")[:500],
        "stock_path": (item.stock_path or "")[:500],
        "error_message": item.error_message or "",
        "extra": item.extra,
    }


def record_seen(items: Iterable[genapi.HistoryItem], known: Catalogue, *, asked_at: datetime | None = None) -> Seen:
    """Rows for items the upstream has just shown (a listing page or a read): new ones
    added, those it changed (status, like, paths) updated, the others only marked seen.

    `asked_at`: when the upstream was asked (the sync's reads). A row recorded since then
    (a rating confirmed here meanwhile) shows a newer answer than these items: it is left
    as it is, and the next read brings whatever changed."""
    wanted = {item.id: item for item in items if genapi.is_valid_id(item.id)}
    if not wanted:
        return Seen()
    now = timezone.now()
    seen = Seen()
    with transaction.atomic():
        rows = {row.history_item_id: row for row in IndexedResult.objects.filter(history_item_id__in=list(wanted))}
        wanted = _not_older(wanted, rows, asked_at)
        reviews = {r.history_item_id: r for r in Review.objects.filter(history_item_id__in=list(wanted))}
        unknown = [item_id for item_id in wanted if item_id not in rows]
        made_here = {
            job.history_item_id: job
            for job in Job.objects.filter(history_item_id__in=unknown)
            .select_related("designer", "run")
            .prefetch_related("inputs__image")
        }
        trashed = set(
            TrashedResult.objects.filter(history_item_id__in=unknown).values_list("history_item_id", flat=True)
        )
        new = []
        for item_id, item in wanted.items():
            values = _upstream_values(item, known)
            row = rows.get(item_id)
            if row is None:
                extra = made_here.get(item_id), item_id in trashed
                new.append(_new_row(item, values, known, reviews.get(item_id), now, *extra))
                seen.added.append(item_id)
                if not item.is_pending:
                    seen.finished.append(item)
                continue
            _update_row(row, item, values, reviews.get(item_id), now, seen)
        IndexedResult.objects.bulk_create(new, ignore_conflicts=True)
        IndexedResult.objects.filter(history_item_id__in=list(wanted)).update(seen_at=now)
        if seen.touched:
            note_change(seen)
    return seen


def _update_row(row: IndexedResult, item, values: dict, review: Review | None, now: datetime, seen: Seen) -> None:
    """Writes what the upstream changed of a row (nothing if it changed nothing)."""
    changed = [name for name in UPSTREAM_FIELDS if getattr(row, name) != values[name]]
    if not changed:
        return
    was_running = row.status == genapi.Status.PENDING
    for name in changed:
        setattr(row, name, values[name])
    if was_running and not item.is_pending:
        row.finished_at = finished_at(item) or now
        seen.finished.append(item)
    if row.created_at:  # a job made here was placed by our clock until the upstream's time came
        row.sort_at = row.created_at
    row.rating = rating_of(row.like, review)
    row.save(update_fields=[*changed, "finished_at", "rating", "sort_at"])
    seen.changed.append(row.history_item_id)


def _not_older(wanted: dict[str, genapi.HistoryItem], rows: dict, asked_at: datetime | None) -> dict:
    """The items but those whose rows were recorded after `asked_at`, from a newer answer."""
    if asked_at is None:
        return wanted
    return {key: item for key, item in wanted.items() if key not in rows or rows[key].seen_at <= asked_at}


def _new_row(
    item, values: dict, known: Catalogue, review: Review | None, now: datetime, job: Job | None, in_trash: bool
) -> IndexedResult:
    row = IndexedResult(
        history_item_id=item.id,
        **values,
        finished_at=None if item.is_pending else (finished_at(item) or (job.finished_at if job else None)),
        rating=rating_of(item.like, review),
        reasons=review.reasons if review else "",
        sort_at=item.created_at or now,
        made_by=job.designer if job else None,
        run=job.run if job else None,
        in_trash=in_trash,
        seen_at=now,
    )
    row.search_text = search_text(row, known, job, review)
    return row


def record_created(job: Job, tool_title: str = "") -> None:
    """A job made here shows at once, running, before the upstream lists it."""
    now = timezone.now()
    row, created = IndexedResult.objects.get_or_create(
        history_item_id=job.history_item_id,
        defaults={
            "tool": job.tool,
            "style_id": job.style_id,
            "status": genapi.Status.PENDING,
            "raw_status": "pending",
            "created_at": job.created_at,
            "sort_at": job.created_at or now,
            "made_by": job.designer,
            "run": job.run,
            "seen_at": now,
        },
    )
    if not created:
        row.made_by, row.run = job.designer, job.run
    row.search_text = search_text(row, None, job, None)
    row.save()
    note_change(Seen(added=[row.history_item_id]) if created else Seen(changed=[row.history_item_id]))


def record_like(item_id: str, like: bool) -> None:
    """The upstream took a rating: its row shows what the upstream now stores (read
    again: its answer to the rating says nothing), or the rating sent if that read fails."""
    from dashboard.core.catalogue import catalogue

    try:
        record_seen([genapi.item(item_id, fresh=True)], catalogue())
    except genapi.GenApiError:
        row = IndexedResult.objects.filter(history_item_id=item_id).first()
        if row is not None:
            row.like = like
            row.rating = rating_of(like, Review.objects.filter(history_item_id=item_id).first())
            row.save(update_fields=["like", "rating"])
            note_change(Seen(changed=[item_id]))
    else:
        review_changed(item_id)


def review_changed(item_id: str) -> None:
    """The dashboard's review of a result changed (a cleared rating, reasons, a note)."""
    row = IndexedResult.objects.filter(history_item_id=item_id).first()
    if row is None:
        return
    review = Review.objects.filter(history_item_id=item_id).first()
    row.rating = rating_of(row.like, review)
    row.reasons = review.reasons if review else ""
    job = Job.objects.filter(history_item_id=item_id).select_related("designer", "run").first()
    row.search_text = search_text(row, None, job, review)
    row.save(update_fields=["rating", "reasons", "search_text"])
    note_change(Seen(changed=[item_id]))


def inputs_renamed(image: InputImage) -> None:
    """An input image's name or tags changed: the results that used it are found by the new words."""
    _words_changed(Job.objects.filter(inputs__image=image))


def run_renamed(run: Run) -> None:
    """A run's name changed: its results are found by the new one."""
    _words_changed(Job.objects.filter(run=run))


def _words_changed(jobs: QuerySet[Job]) -> None:
    renamed = []
    for row in IndexedResult.objects.filter(history_item_id__in=jobs.values("history_item_id")):
        job = Job.objects.filter(history_item_id=row.history_item_id).select_related("designer", "run").first()
        review = Review.objects.filter(history_item_id=row.history_item_id).first()
        row.search_text = search_text(row, None, job, review)
        row.save(update_fields=["search_text"])
        renamed.append(row.history_item_id)
    note_change(Seen(changed=renamed))


def note_change(seen: Seen) -> None:
    """Every change to the index's rows ends here: the gallery's cached totals are
    counted again (gallery.history.total_of), and the change is announced (`changed`)
    once its transaction is committed, so a receiver never tells of rows others cannot
    read yet."""
    SyncState.objects.filter(name="history").update(version=F("version") + 1)
    transaction.on_commit(lambda: changed.send_robust(sender=Seen, seen=seen))


def version() -> int | None:
    """The index's change count; None before the sync's state exists (nothing is cached then)."""
    return SyncState.objects.filter(name="history").values_list("version", flat=True).first()


def refresh_statistics() -> None:
    """Let SQLite's planner know the index's shape: without statistics it chose to walk
    the gallery's whole index for a run's 29 results (370 ms at 100,000, against 1 ms).
    PostgreSQL's autovacuum keeps its own; SQLite has nothing that runs ANALYZE, so the
    sync does, after its first read of the history and after each sweep. A sample of
    1,000 rows an index (`analysis_limit`) is enough for these choices: ~15 ms."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA analysis_limit=1000")
        cursor.execute(f"ANALYZE {IndexedResult._meta.db_table}")


def set_in_trash(item_ids: Iterable[str], in_trash: bool) -> None:
    moved = list(item_ids)
    IndexedResult.objects.filter(history_item_id__in=moved).update(in_trash=in_trash)
    note_change(Seen(changed=moved))


def forget(item_ids: Iterable[str]) -> int:
    """Results gone upstream (jobs.not_found decides when): their rows go."""
    gone = list(item_ids)
    forgotten = IndexedResult.objects.filter(history_item_id__in=gone).delete()[0]
    if forgotten:
        note_change(Seen(removed=gone))
    return forgotten


def search_text(row: IndexedResult, known: Catalogue | None, job: Job | None, review: Review | None) -> str:
    """The words a search finds a result by: tool and style titles, input image names and
    tags, the note, its run and the designer who made it."""
    words = [row.tool.replace("_", " "), row.style_id]
    if known is not None and row.tool:
        words.append(known.tool_title(row.tool))
        if row.style_id in known.styles:
            words.append(known.styles[row.style_id].title)
    if job is not None:
        words += [job.tool_title, job.style_title]
        if job.designer:
            words.append(job.designer.get_username())
        if job.run_id:
            words += [f"run {job.run_id}", job.run.name if job.run else ""]
        for entry in job.inputs.all():
            words += [entry.image.display_name, entry.image.tags]
    if review is not None:
        words.append(review.note)
    return " ".join(" ".join(word.split()) for word in words if word).lower()[:4000]


def find(item_id: str, known: Catalogue | None = None) -> IndexedResult | None:
    """A result's row; one the sync has not reached yet (a link followed early) is read
    from the upstream once and recorded. None when the upstream does not know it.
    Raises genapi.GenApiError when it cannot be read."""
    genapi.validate_id(item_id)
    row = IndexedResult.objects.filter(history_item_id=item_id).first()
    if row is not None:
        return row
    try:
        item = genapi.item(item_id)
    except genapi.NotFound:
        return None
    from dashboard.core.catalogue import catalogue

    record_seen([item], known or catalogue())
    return IndexedResult.objects.filter(history_item_id=item_id).first()


def keep_catalogue(known: Catalogue) -> None:
    """The tools and styles the sync just read, for pages to title results without a call."""
    SyncState.objects.update_or_create(name="history", defaults={"catalogue": known.snapshot()})


def unseen_since(cutoff: datetime, *, older_than: datetime | None, newer_than: datetime | None) -> Q:
    """Rows not seen since `cutoff` within a window of creation times (a sweep's page)."""
    window = Q(seen_at__lt=cutoff)
    if older_than is not None:
        window &= Q(sort_at__lte=older_than)
    if newer_than is not None:
        window &= Q(sort_at__gte=newer_than)
    return window
