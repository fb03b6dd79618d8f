"""What an open gallery learns after it was drawn: how many results matching its filters
were added since, above what it shows (counted, never inserted: a designer keeps their
place), and which of the results it shows were rated, deleted or restored meanwhile by
someone else. All of it read from the index; the page asks when the server pushes a
`result-changed` event (dashboard/live/), and every NEWS_POLL_SECONDS (core/polling.py)
without push.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Q, QuerySet

from dashboard import genapi
from dashboard.gallery import history
from dashboard.models import IndexedResult, TrashedResult

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A result added since the page was drawn counts as new when it sorts above the newest
# result the page could show, or at most this much below it: the sync indexes a result
# made elsewhere up to SYNC_FOLLOW_SECONDS after it was made, meanwhile a job made here
# shows at once. An older result indexed later (a catch-up filling the history
# backwards) is not news at the top of the gallery.
LATE_ADDITION = timedelta(minutes=10)

# A card's state as the page shows it, and as the index says it should be.
LIKED, DISLIKED, UNRATED = IndexedResult.Rating.LIKED, IndexedResult.Rating.DISLIKED, IndexedResult.Rating.UNRATED
TRASHED, GONE = "trashed", "gone"
STATES = {LIKED, DISLIKED, UNRATED, TRASHED, GONE}
MOST_CARDS = 100  # the longest page


@dataclass(frozen=True)
class Mark:
    """Where the gallery stood when drawn: its newest matching result's place in the
    order (None: it matched nothing) and the index's last row id (None: it was empty)."""

    newest_at: datetime | None
    last_id: int | None

    def __str__(self) -> str:
        at = "" if self.newest_at is None else str((self.newest_at - EPOCH) // timedelta(microseconds=1))
        return f"{at}.{'' if self.last_id is None else self.last_id}"

    @classmethod
    def read(cls, text: str) -> Mark | None:
        """The mark written by str(), or None for anything else."""
        at, dot, last = text.partition(".")
        if not dot or not (at.isdigit() or at == "") or not (last.isdigit() or last == ""):
            return None
        try:
            newest_at = EPOCH + timedelta(microseconds=int(at)) if at else None
        except OverflowError:
            return None
        return cls(newest_at=newest_at, last_id=int(last) if last else None)


def mark(rows: QuerySet[IndexedResult], first_shown: IndexedResult | None) -> Mark:
    """The mark of a gallery drawn now under these rows (its filters' matching results);
    `first_shown`: the first card of page 1, which is the newest (saves a query)."""
    newest_at = first_shown.sort_at if first_shown else rows.values_list("sort_at", flat=True).first()
    last_id = IndexedResult.objects.order_by("-id").values_list("id", flat=True).first()
    return Mark(newest_at=newest_at, last_id=last_id)


def count_new(filters: history.Filters, designer, since: Mark) -> int:
    """Results matching the filters added to the index after `since`, that sort above the
    newest the page could show (or a late addition just below it): what "Show them"
    brings to the top of page 1. One count on the index's newest-first order, from the
    mark on."""
    rows = history.matching(filters, designer).order_by()
    if since.last_id is None:
        return rows.count()  # the index was empty: everything in it is new
    added = Q(id__gt=since.last_id)
    if since.newest_at is None:  # nothing matched: whatever matches now was added since
        return rows.filter(added).count()
    # A plain range of sort_at first, which the index seeks to.
    rows = rows.filter(sort_at__gte=since.newest_at - LATE_ADDITION)
    return rows.filter(Q(sort_at__gt=since.newest_at) | added).count()


def state_of(row: IndexedResult | None) -> str:
    """What a card of this result shows: its rating (only a finished result has the
    buttons), or that it went to the trash or is gone."""
    if row is None:
        return GONE
    if row.in_trash:
        return TRASHED
    if row.status != genapi.Status.COMPLETE:
        return UNRATED
    return row.rating or UNRATED


@dataclass
class Removed:
    """A result shown that is no longer in the gallery: in the trash (by whom), or gone."""

    id: str
    state: str
    by: str = ""


@dataclass
class Changes:
    """Results shown whose state differs from the index's: rows to draw again, and those removed."""

    rows: list[IndexedResult] = field(default_factory=list)
    removed: list[Removed] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.rows or self.removed)


def changes(shown: dict[str, str]) -> Changes:
    """Of the results shown (id: the state the page shows), those the index now says
    differently, in the order shown."""
    shown = {item_id: state for item_id, state in shown.items() if state in STATES}
    rows = {row.history_item_id: row for row in IndexedResult.objects.filter(history_item_id__in=list(shown))}
    found = Changes()
    for item_id, state in shown.items():
        row = rows.get(item_id)
        now = state_of(row)
        if now == state:
            continue
        if row is not None and now != TRASHED:
            found.rows.append(row)
        else:
            found.removed.append(Removed(item_id, now))
    trashed = [entry for entry in found.removed if entry.state == TRASHED]
    if trashed:
        by = dict(
            TrashedResult.objects.filter(history_item_id__in=[entry.id for entry in trashed]).values_list(
                "history_item_id", "trashed_by_name"
            )
        )
        for entry in trashed:
            entry.by = by.get(entry.id, "")
    return found


def read_shown(values: list[str]) -> dict[str, str]:
    """`state:id` pairs as the page sends them (gallery.js), at most a page's worth;
    anything else is left out."""
    shown = {}
    for value in values[:MOST_CARDS]:
        state, _, item_id = value.partition(":")
        if state in STATES and genapi.is_valid_id(item_id):
            shown[item_id] = state
    return shown
