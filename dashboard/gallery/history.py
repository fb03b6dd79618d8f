"""The gallery's reading of the team's history: which results a page shows, as cards,
and what is around one. All of it is read from the index (dashboard/index/), never from
the upstream: every filter is one query, with exact totals, whatever the history's size.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from urllib.parse import quote, urlencode

from django.core.cache import cache as shared_cache
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from dashboard import genapi
from dashboard.core import display
from dashboard.core.catalogue import Catalogue
from dashboard.index import services as index
from dashboard.models import AuditEntry, IndexedResult, InputImage, Job, Review
from dashboard.reviews import services as reviews
from dashboard.runs import services as runs

# Date ranges a designer picks with one click; "custom" takes the `from`/`to` dates.
PERIODS = {"today": "Today", "7d": "Last 7 days", "30d": "Last 30 days", "custom": "Custom dates"}
PERIOD_DAYS = {"7d": 7, "30d": 30}
SEARCH_MAX_WORDS = 8


@dataclass(frozen=True)
class Filters:
    statuses: tuple[str, ...] = ()
    style: str = ""
    limit: int = 20
    mine: bool = False
    run: int | None = None  # a matrix run's results only: its current attempts
    all_attempts: bool = False  # with `run`: the attempts tried again since too
    page: int = 1
    rating: str = ""  # "liked", "disliked", "unrated": finished results only
    reason: str = ""  # a dislike reason's code: disliked results given it
    tool: str = ""
    period: str = ""  # one of PERIODS, or "" for any time
    date_from: date | None = None  # with period "custom"; either end may be open
    date_to: date | None = None
    q: str = ""  # words to search for (titles, input names and tags, notes, run, designer)
    designer: str = ""  # the username of the designer who made them (results made here only)
    inputs: tuple[int, ...] = ()  # library images every result shown was made from (all of them)

    def query(self, **changes) -> str:
        """The URL query for these filters (with changes), defaults left out."""
        values = {**self.__dict__, **changes}
        pairs: list[tuple[str, object]] = [("status", status) for status in values["statuses"]]
        if values["q"]:
            pairs.append(("q", values["q"]))
        if values["style"]:
            pairs.append(("style", values["style"]))
        if values["tool"]:
            pairs.append(("tool", values["tool"]))
        if values["period"]:
            pairs.append(("when", values["period"]))
        if values["period"] == "custom":
            pairs += [
                (name, values[key].isoformat())
                for name, key in (("from", "date_from"), ("to", "date_to"))
                if values[key]
            ]
        if values["limit"] != 20:
            pairs.append(("limit", values["limit"]))
        if values["mine"]:
            pairs.append(("mine", "1"))
        if values["run"]:
            pairs.append(("run", values["run"]))
        if values["run"] and values["all_attempts"]:
            pairs.append(("attempts", "all"))
        if values["page"] != 1:
            pairs.append(("page", values["page"]))
        if values["designer"]:
            pairs.append(("designer", values["designer"]))
        pairs += [("input", image) for image in values["inputs"]]
        pairs += [(name, values[name]) for name in ("rating", "reason") if values[name]]
        return urlencode(pairs)

    def narrowed(self) -> bool:
        """Whether any filter hides results (the empty gallery then says so)."""
        return bool(
            self.statuses
            or self.style
            or self.mine
            or self.run
            or self.tool
            or self.rating
            or self.reason
            or self.q
            or self.designer
            or self.inputs
            or self.time_range != (None, None)
        )

    def in_effect(self) -> int:
        """How many filters hide results, as a phone's folded form says ("Filters (2)"):
        each field counts once (two statuses are one filter); page and page size are none."""
        return sum(
            bool(each)
            for each in (
                self.q,
                self.statuses,
                self.tool,
                self.style,
                self.time_range != (None, None),
                self.rating,
                self.reason,
                self.run,
                self.mine,
                self.designer,
                self.inputs,
            )
        )

    @property
    def time_range(self) -> tuple[datetime | None, datetime | None]:
        """[start, end) in the server's time zone; None for an open end."""
        now = timezone.localtime()
        if self.period == "today":
            return now.replace(hour=0, minute=0, second=0, microsecond=0), None
        if self.period in PERIOD_DAYS:
            # From the start of this minute: the same set, and the same total, for a minute.
            minute = now.replace(second=0, microsecond=0)
            return minute - timedelta(days=PERIOD_DAYS[self.period]), None
        if self.period == "custom":
            start = _midnight(self.date_from) if self.date_from else None
            end = _midnight(self.date_to + timedelta(days=1)) if self.date_to else None
            return start, end
        return None, None


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def matching(filters: Filters, designer) -> QuerySet[IndexedResult]:
    """The indexed results these filters show, newest first (the trash left out)."""
    rows = IndexedResult.objects.filter(in_trash=False)
    if filters.statuses:
        rows = rows.filter(status__in=filters.statuses)
    if filters.style:
        rows = rows.filter(style_id=filters.style)
    if filters.tool:
        rows = rows.filter(tool=filters.tool)
    if filters.mine:
        rows = rows.filter(made_by=designer)
    if filters.designer:
        rows = rows.filter(made_by__username=filters.designer)
    for image in filters.inputs:
        rows = rows.filter(history_item_id__in=Job.objects.filter(inputs__image_id=image).values("history_item_id"))
    if filters.run:
        rows = rows.filter(run_id=filters.run)
        if not filters.all_attempts:  # each cell's latest job, not those tried again since
            rows = rows.filter(history_item_id__in=runs.current_item_ids(filters.run))
    if filters.rating or filters.reason:
        rows = rows.filter(status=genapi.Status.COMPLETE)
    if filters.rating:
        rows = rows.filter(rating=filters.rating)
    if filters.reason:
        rows = rows.filter(rating=IndexedResult.Rating.DISLIKED, reasons__contains=f" {filters.reason} ")
    start, end = filters.time_range
    if start or end:
        rows = rows.filter(created_at__isnull=False)  # an undated result cannot be placed in a range
    if start:
        rows = rows.filter(created_at__gte=start)
    if end:
        rows = rows.filter(created_at__lt=end)
    if filters.q:
        rows = searched(rows, filters.q)
    return rows.order_by("-sort_at", "-history_item_id")


def searched(rows: QuerySet[IndexedResult], q: str) -> QuerySet[IndexedResult]:
    """Results whose words start with each of the words searched for: PostgreSQL's
    full-text search (its GIN index, migration 0012), plain containment on SQLite."""
    words = re.findall(r"\w+", q.replace("\x00", " ").lower())[:SEARCH_MAX_WORDS]
    if not words:
        return rows
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector  # needs psycopg

        query = SearchQuery(" & ".join(f"{word}:*" for word in words), config="simple", search_type="raw")
        return rows.annotate(found=SearchVector("search_text", config="simple")).filter(found=query)
    for word in words:
        rows = rows.filter(search_text__contains=word)
    return rows


@cache
def _url_template(name: str, *args: str) -> str:
    return reverse(name, args=[ID_PLACEHOLDER, *args])


def url_for_item(name: str, item_id: str, *args: str) -> str:
    """reverse() for the grid's many links, without resolving the pattern every time."""
    return _url_template(name, *args).replace(ID_PLACEHOLDER, quote(item_id, safe=""))


ID_PLACEHOLDER = "item-id-placeholder"


@dataclass
class Card:
    """One result as the grid and the lightbox show it; display values worked out once."""

    item: genapi.HistoryItem
    tool_title: str
    style_title: str
    job: Job | None = None
    garment: InputImage | None = None
    review: Review | None = None
    finished_at: datetime | None = None
    like: bool | None = field(init=False)  # as shown: a rating cleared here shows as none
    designer_name: str = field(init=False)
    preview_url: str = field(init=False)
    detail_url: str = field(init=False)
    age: str = field(init=False)
    exact_time: str = field(init=False)
    iso_time: str = field(init=False)
    garment_url: str = field(init=False)

    def __post_init__(self) -> None:
        created = self.item.created_at
        self.like = reviews.like_shown(self.item.like, self.review)
        self.age = display.age(created)
        self.exact_time = display.exact_time(created)
        self.iso_time = created.isoformat() if created else ""
        self.garment_url = reverse("input_image", args=[self.garment.pk, "thumbnail"]) if self.garment else ""
        self.designer_name = self.job.designer.get_username() if self.job and self.job.designer else ""
        self.preview_url = url_for_item("result_image", self.item.id, "preview")
        self.detail_url = url_for_item("history_item", self.item.id)


def make_cards(rows: list[IndexedResult], known: Catalogue) -> list[Card]:
    ids = [row.history_item_id for row in rows]
    jobs = {
        job.history_item_id: job
        for job in Job.objects.filter(history_item_id__in=ids)
        .select_related("designer")
        .prefetch_related("inputs__image")
    }
    found_reviews = reviews.reviews_of(ids)
    cards = []
    for row in rows:
        item = index.as_item(row)
        job = jobs.get(item.id)
        first_input = next(iter(job.inputs.all()), None) if job else None
        cards.append(
            Card(
                item=item,
                tool_title=(job.tool_title if job and job.tool_title else known.tool_title(row.tool or item.tool)),
                style_title=(job.style_title if job and job.style_title else known.style_title(item)),
                job=job,
                garment=first_input.image if first_input else None,
                review=found_reviews.get(item.id),
                finished_at=row.finished_at,
            )
        )
    return cards


@dataclass
class GalleryPage:
    cards: list[Card]
    filters: Filters
    pages: int
    total_count: int
    page_links: list = field(default_factory=list)
    first_row: IndexedResult | None = None  # page 1's first: the newest result the filters match

    @property
    def pending_ids(self) -> list[str]:
        return [card.item.id for card in self.cards if card.item.is_pending]


def load_page(filters: Filters, designer, known: Catalogue) -> GalleryPage:
    """One page of results under these filters, with the exact total."""
    rows = matching(filters, designer)
    total = total_of(rows, filters, designer)
    pages = -(-total // filters.limit)
    number = filters.page
    shown: list[IndexedResult] = []
    if number <= pages:
        # The page's ids first, from the index alone; then only those rows. Asked for
        # whole rows, PostgreSQL read every row it skipped on a deep page (75 ms at 40,000).
        start = (number - 1) * filters.limit
        ids = list(rows.values_list("id", flat=True)[start : start + filters.limit])
        found = IndexedResult.objects.in_bulk(ids)
        shown = [found[pk] for pk in ids if pk in found]
    page = GalleryPage(cards=make_cards(shown, known), filters=filters, pages=pages, total_count=total)
    page.first_row = shown[0] if number == 1 and shown else None
    if pages > 1:
        paginator = Paginator(range(total), filters.limit)
        page.page_links = list(paginator.get_elided_page_range(min(number, pages), on_each_side=2, on_ends=1))
    return page


# Totals are kept this long at most; any change to the index counts them again at once.
TOTAL_SECONDS = 300


def total_of(rows: QuerySet[IndexedResult], filters: Filters, designer) -> int:
    """How many results the filters match: counted once per change to the index (its
    version) and kept in the cache, so paging and reloading do not count 100,000 rows
    again. A period that moves with the clock is part of the key as it reads now."""
    version = index.version()
    if version is None or filters.run:
        # A run's current attempts change with "Try again" without the index changing;
        # counting its few hundred rows at most costs less than a stale total.
        return rows.count()
    start, end = filters.time_range  # "today" and "last 7 days" move with the clock
    scope = f"{filters.query(page=1)}&start={start}&end={end}" + (f"&designer={designer.pk}" if filters.mine else "")
    key = f"gallery-total:{version}:{hashlib.sha256(scope.encode()).hexdigest()[:32]}"
    total = shared_cache.get(key)
    if total is None:
        total = rows.count()
        shared_cache.set(key, total, TOTAL_SECONDS)
    return total


@dataclass(frozen=True)
class Neighbours:
    previous: tuple[str, int] | None  # (item id, the page it is on)
    next: tuple[str, int] | None
    page: int  # the page the item itself is on


def neighbours(item_id: str, filters: Filters, designer) -> Neighbours:
    """The results before and after one item under the same filters, across page edges,
    and the page it is on; none when it is not among them."""
    if filters.run:
        return run_neighbours(item_id, filters, designer)
    rows = matching(filters, designer)
    at = rows.filter(history_item_id=item_id).values_list("sort_at", flat=True).first()
    if at is None:
        return Neighbours(previous=None, next=None, page=filters.page)
    # Each side also as a plain range of sort_at, which the index can seek to; the
    # tie-break on the id alone would make the database walk from one end of the index.
    newer = Q(sort_at__gte=at) & (Q(sort_at__gt=at) | Q(history_item_id__gt=item_id))
    older = Q(sort_at__lte=at) & (Q(sort_at__lt=at) | Q(history_item_id__lt=item_id))
    position = rows.filter(newer).count()
    previous = (
        rows.filter(newer).order_by("sort_at", "history_item_id").values_list("history_item_id", flat=True).first()
    )
    following = rows.filter(older).values_list("history_item_id", flat=True).first()
    return Neighbours(
        previous=(previous, (position - 1) // filters.limit + 1) if previous else None,
        next=(following, (position + 1) // filters.limit + 1) if following else None,
        page=position // filters.limit + 1,
    )


def run_neighbours(item_id: str, filters: Filters, designer) -> Neighbours:
    """Under the run filter: the run's current cells in matrix order (row by row, column
    by column), those the filters show, then any earlier attempts they show (newest
    first); each with the gallery page it is on. Two queries over one run's rows."""
    shown = list(matching(filters, designer).values_list("history_item_id", flat=True))
    at_page = {found: index // filters.limit + 1 for index, found in enumerate(shown)}
    if item_id not in at_page:
        return Neighbours(previous=None, next=None, page=filters.page)
    current = [found for found, _ in runs.current_results(filters.run or 0) if found in at_page]
    in_matrix = set(current)
    walk = current + [found for found in shown if found not in in_matrix]
    position = walk.index(item_id)
    previous = walk[position - 1] if position > 0 else None
    following = walk[position + 1] if position + 1 < len(walk) else None
    return Neighbours(
        previous=(previous, at_page[previous]) if previous else None,
        next=(following, at_page[following]) if following else None,
        page=at_page[item_id],
    )


# The lightbox shows this many of a result's runs again, the newest.
RERUNS_SHOWN = 4


def reruns_of(item_id: str) -> list[IndexedResult]:
    """The results made by "Run again" from this one (by anyone), newest first, those
    still in the gallery: the audit trail names each one's source (an indexed column)."""
    made = list(
        AuditEntry.objects.filter(source_item_id=item_id, action=AuditEntry.Action.RERUN, succeeded=True)
        .exclude(history_item_id="")
        .values_list("history_item_id", flat=True)[: RERUNS_SHOWN * 2]
    )
    shown = IndexedResult.objects.filter(history_item_id__in=made, in_trash=False)
    rows = {row.history_item_id: row for row in shown}
    return [rows[found] for found in dict.fromkeys(made) if found in rows][:RERUNS_SHOWN]
