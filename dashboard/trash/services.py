"""The trash: a deleted result is hidden at once and deleted upstream only later.

Deleting (lightbox, card, bulk) moves a result here; "Undo" and "Restore" bring it back.
It is deleted upstream (`genapi.delete`, through `jobs.delete_result`) when a designer
chooses "Delete forever" or empties the trash, or after TRASH_DAYS by
`manage.py purge_trash`. Every step is recorded in the audit trail.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dashboard import genapi
from dashboard.core import audit, concurrency
from dashboard.index import services as index
from dashboard.jobs import services as jobs
from dashboard.models import TrashedResult


def hidden_ids() -> set[str]:
    """Results the gallery leaves out. The trash holds at most TRASH_DAYS of deletions."""
    return set(TrashedResult.objects.values_list("history_item_id", flat=True))


def move_to_trash(designer, item_id: str, *, title: str = "") -> bool:
    """Hide a result; False when the upstream no longer has it (then it is forgotten here
    by the one rule for results gone upstream: there is nothing to put back). One read,
    usually from the cache."""
    try:
        found = genapi.item(item_id)
    except genapi.InvalidId:
        raise  # an id no result can have is refused, not taken for one already gone
    except genapi.NotFound:
        _already_gone(designer, item_id, bulk=False)
        return False
    except genapi.GenApiError as exc:
        audit.record(designer, audit.Action.TRASH, item_id, problem=exc.message)
        raise
    _keep_in_trash(designer, found, title=title, bulk=False)
    return True


def move_many(designer, item_ids: list[str]) -> concurrency.Many:
    """Move several results to the trash, each read upstream a few at a time
    (core.concurrency); `done` are those now in the trash (the Undo brings them back),
    `already` those gone upstream already."""

    def upstream(item_id: str) -> genapi.HistoryItem | genapi.GenApiError:
        try:
            return genapi.item(item_id)
        except genapi.GenApiError as exc:
            return exc

    outcome = concurrency.Many()
    for item_id, answer in concurrency.each(upstream, item_ids).items():
        if isinstance(answer, genapi.NotFound):
            _already_gone(designer, item_id, bulk=True)
            outcome.already.append(item_id)
        elif isinstance(answer, genapi.GenApiError | concurrency.Late):
            audit.record(designer, audit.Action.TRASH, item_id, bulk=True, problem=concurrency.problem(answer))
            outcome.failed.append((item_id, answer))
        else:
            _keep_in_trash(designer, answer, bulk=True)
            outcome.done.append(item_id)
    return outcome


def _keep_in_trash(designer, found: genapi.HistoryItem, *, title: str = "", bulk: bool) -> None:
    TrashedResult.objects.get_or_create(
        history_item_id=found.id,
        defaults={
            "trashed_by": designer,
            "trashed_by_name": designer.get_username(),
            "trashed_at": timezone.now(),
            "title": (title or (found.tool or "").replace("_", " ").title())[:300],
            "status": found.status,
        },
    )
    index.set_in_trash([found.id], True)
    audit.record(designer, audit.Action.TRASH, found.id, bulk=bulk)


def _already_gone(designer, item_id: str, *, bulk: bool) -> None:
    jobs.not_found([item_id])
    audit.record(designer, audit.Action.DELETE, item_id, bulk=bulk)


def restore(designer, item_id: str) -> bool:
    """Take a result out of the trash; False when it was not there (already restored or
    deleted for good)."""
    removed, _ = TrashedResult.objects.filter(history_item_id=item_id).delete()
    if removed:
        index.set_in_trash([item_id], False)
        audit.record(designer, audit.Action.RESTORE, item_id)
    return bool(removed)


def delete_forever(designer, item_id: str) -> str | None:
    """Delete one trashed result upstream now (its row goes only once the upstream agreed);
    why it could not be, if it could not."""
    genapi.validate_id(item_id)  # an id no result can have is not even looked up
    _, failed = _purge(designer, TrashedResult.objects.filter(history_item_id=item_id))
    return failed[0][1] if failed else None


def empty(designer) -> tuple[int, list[tuple[str, str]]]:
    """Delete everything in the trash upstream: (how many, failures as (id, sentence))."""
    return _purge(designer, TrashedResult.objects.all())


def purge_expired(days: float | None = None) -> tuple[int, list[tuple[str, str]]]:
    """What cron runs: results in the trash longer than TRASH_DAYS, deleted upstream."""
    cutoff = timezone.now() - timedelta(days=settings.TRASH_DAYS if days is None else days)
    return _purge(None, TrashedResult.objects.filter(trashed_at__lt=cutoff))


def _purge(designer, rows) -> tuple[int, list[tuple[str, str]]]:
    """Delete these trashed results upstream, one at a time.

    Safe on several machines at once: each row is locked before its upstream call
    (`select_for_update(skip_locked=True)`: a row another run holds is skipped, not
    waited for) and deleted in the same transaction. On SQLite, which has no row locks,
    two runs may both ask the upstream to delete one result; it answers the second with
    404, which counts as deleted.
    """
    done, failed = 0, []
    for pk in list(rows.order_by("trashed_at", "pk").values_list("pk", flat=True)):
        with transaction.atomic():
            row = TrashedResult.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
            if row is None:
                continue  # restored meanwhile, or another run has it
            try:
                jobs.delete_result(designer, row.history_item_id)
            except genapi.GenApiError as exc:
                failed.append((row.history_item_id, exc.message))
                continue
            row.delete()
            done += 1
    return done, failed
