"""The gallery's own logic: which page of results to show, as cards, and what is around one.

Everything upstream goes through genapi; this module adds what the dashboard knows
(who made a job, its inputs) and the catalogue's titles.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import cache
from urllib.parse import quote, urlencode

from django.core.paginator import Paginator
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from dashboard import genapi
from dashboard.core import display
from dashboard.jobs.services import not_found
from dashboard.jobs.services import refresh as refresh_jobs
from dashboard.models import InputImage, Job, Review, TrashedResult
from dashboard.reviews import services as reviews
from dashboard.trash import services as trash

# "Made by me" brings this many of the designer's running jobs up to date per page view.
MY_RUNNING_REFRESH_LIMIT = 100


# Date ranges a designer picks with one click; "custom" takes the `from`/`to` dates.
PERIODS = {"today": "Today", "7d": "Last 7 days", "30d": "Last 30 days", "custom": "Custom dates"}
PERIOD_DAYS = {"7d": 7, "30d": 30}

# The upstream cannot filter by tool, date or rating, and knows nothing of the trash: for
# those the dashboard reads the listing itself, newest first, this many results a call,
# and at most this many calls per view (see `walk`).
SCAN_PAGE_SIZE = 100
SCAN_MAX_CALLS = 10


@dataclass(frozen=True)
class Filters:
    statuses: tuple[str, ...] = ()
    style: str = ""
    limit: int = 20
    mine: bool = False
    run: int | None = None  # a matrix run's jobs only (from our own records, like `mine`)
    page: int = 1
    rating: str = ""  # "liked", "disliked", "unrated": finished results only
    reason: str = ""  # a dislike reason's code: disliked results given it
    tool: str = ""
    period: str = ""  # one of PERIODS, or "" for any time
    date_from: date | None = None  # with period "custom"; either end may be open
    date_to: date | None = None

    def query(self, **changes) -> str:
        """The URL query for these filters (with changes), defaults left out."""
        values = {**self.__dict__, **changes}
        pairs: list[tuple[str, object]] = [("status", status) for status in values["statuses"]]
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
        if values["page"] != 1:
            pairs.append(("page", values["page"]))
        pairs += [(name, values[name]) for name in ("rating", "reason") if values[name]]
        return urlencode(pairs)

    @property
    def from_our_records(self) -> bool:
        """Whether the results come from our Job rows (made by me, one run), not the listing."""
        return self.mine or bool(self.run)

    @property
    def by_rating(self) -> bool:
        return bool(self.rating or self.reason)

    def rated_as_wanted(self, item: genapi.HistoryItem, review: Review | None) -> bool:
        """Whether a result passes the rating filters (kept by the dashboard, see _listing)."""
        if not self.by_rating:
            return True
        if not item.is_complete:
            return False
        like = reviews.like_shown(item.like, review)
        wanted = {"liked": True, "disliked": False, "unrated": None}
        if self.rating and like is not wanted[self.rating]:
            return False
        return not self.reason or (like is False and review is not None and self.reason in review.reason_codes)

    def narrowed(self) -> bool:
        """Whether any filter hides results (the empty gallery then says so)."""
        return bool(
            self.statuses
            or self.style
            or self.from_our_records
            or self.tool
            or self.by_rating
            or self.time_range != (None, None)
        )

    @property
    def time_range(self) -> tuple[datetime | None, datetime | None]:
        """[start, end) in the server's time zone; None for an open end."""
        now = timezone.localtime()
        if self.period == "today":
            return now.replace(hour=0, minute=0, second=0, microsecond=0), None
        if self.period in PERIOD_DAYS:
            return now - timedelta(days=PERIOD_DAYS[self.period]), None
        if self.period == "custom":
            start = _midnight(self.date_from) if self.date_from else None
            end = _midnight(self.date_to + timedelta(days=1)) if self.date_to else None
            return start, end
        return None, None

    @property
    def scans(self) -> bool:
        """Whether the dashboard must read the listing itself (see SCAN_MAX_CALLS)."""
        return bool(self.tool) or self.by_rating or self.time_range != (None, None)

    def shows(self, item: genapi.HistoryItem, review: Review | None, known: Catalogue) -> bool:
        """Whether a result passes the filters the upstream cannot apply (tool, the end of
        a date range, rating); the start of a date range ends the walk instead."""
        start, end = self.time_range
        if (start or end) and (item.created_at is None or (end and item.created_at >= end)):
            return False  # an undated result cannot be placed in a range
        if self.tool and known.tool_of(item) != self.tool:
            return False
        return self.rated_as_wanted(item, review)


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


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


def finished_at(item: genapi.HistoryItem, job: Job | None) -> datetime | None:
    """When a job ended: the upstream's own `finished_at` (outside the contract, so read
    from the item's extra fields), else when the dashboard saw it end."""
    raw = item.extra.get("finished_at")
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    return job.finished_at if job else None


@dataclass
class GalleryPage:
    cards: list[Card]
    filters: Filters
    pages: int
    total_count: int | None
    problem: str | None = None
    page_links: list = field(default_factory=list)
    # A tool or date filter read SCAN_MAX_CALLS listing pages without reaching the end.
    searched_only: int | None = None

    @property
    def pending_ids(self) -> list[str]:
        return [card.item.id for card in self.cards if card.item.is_pending]


@dataclass(frozen=True)
class Catalogue:
    tools: dict[str, genapi.Tool]
    styles: dict[str, genapi.Style]

    def tool_title(self, name: str | None) -> str:
        if not name:
            return "Unknown tool"
        if name in self.tools:
            return self.tools[name].title
        if name in self.styles:  # an upstream that names the style where the tool goes
            return self.tool_title(self.styles[name].tool)
        return name.replace("_", " ").title()

    def tool_of(self, item: genapi.HistoryItem) -> str:
        """The tool that made an item, also when the upstream names its style instead."""
        if item.tool in self.styles and item.tool not in self.tools:
            return self.styles[item.tool].tool
        return item.tool or ""

    def style_title(self, item: genapi.HistoryItem) -> str:
        for candidate in (item.style_id, item.tool):
            if candidate in self.styles:
                return self.styles[candidate].title
        return ""

    def styles_by_tool(self) -> list[tuple[genapi.Tool, list[genapi.Style]]]:
        grouped = [(tool, [s for s in self.styles.values() if s.tool == tool.name]) for tool in self.tools.values()]
        return [(tool, styles) for tool, styles in grouped if styles]


def catalogue() -> Catalogue:
    """Tools and every tool's styles (each cached for minutes)."""
    try:
        tools = genapi.tools()
    except genapi.GenApiError:
        return Catalogue(tools={}, styles={})
    styles: dict[str, genapi.Style] = {}
    for tool in tools:
        try:
            styles.update((style.id, style) for style in genapi.styles(tool.name))
        except genapi.NotFound:
            continue
        except genapi.GenApiError:
            # The upstream is failing: asking again for every other tool would only make
            # the page wait one timeout per tool. Titles fall back to the tools' names.
            break
    return Catalogue(tools={tool.name: tool for tool in tools}, styles=styles)


def make_cards(items: list[genapi.HistoryItem], known: Catalogue) -> list[Card]:
    jobs = {
        job.history_item_id: job
        for job in Job.objects.filter(history_item_id__in=[item.id for item in items])
        .select_related("designer")
        .prefetch_related("inputs__image")
    }
    found_reviews = reviews.reviews_of(item.id for item in items)
    cards = []
    for item in items:
        job = jobs.get(item.id)
        garment = None
        if job:
            first_input = next(iter(job.inputs.all()), None)
            garment = first_input.image if first_input else None
        cards.append(
            Card(
                item=item,
                tool_title=(job.tool_title if job and job.tool_title else known.tool_title(item.tool)),
                style_title=(job.style_title if job and job.style_title else known.style_title(item)),
                job=job,
                garment=garment,
                review=found_reviews.get(item.id),
            )
        )
    return cards


def load_page(filters: Filters, designer, known: Catalogue) -> GalleryPage:
    """One page of results from the upstream (or, for "made by me", from our own records)."""
    complete = True
    total: int | None
    try:
        if filters.from_our_records:
            items, pages, total = _my_items(filters, designer)
        else:
            items, pages, total, complete = _listing(filters, known)
    except genapi.GenApiError as exc:
        return GalleryPage(cards=[], filters=filters, pages=0, total_count=None, problem=exc.message)
    result = GalleryPage(cards=make_cards(items, known), filters=filters, pages=pages, total_count=total)
    if not complete:
        result.searched_only = SCAN_PAGE_SIZE * SCAN_MAX_CALLS
    if pages > 1:
        paginator = Paginator(range(pages), 1)
        result.page_links = list(paginator.get_elided_page_range(min(filters.page, pages), on_each_side=2, on_ends=1))
    return result


@dataclass
class Walk:
    """What a walk of the listing found: the results shown, in order, and whether it read
    everything that could match (False when SCAN_MAX_CALLS stopped it first)."""

    shown: list[genapi.HistoryItem]
    complete: bool
    upstream_total: int = 0
    left_out: int = 0


def walk(filters: Filters, known: Catalogue, *, enough: int | None = None, hidden: set[str] | None = None) -> Walk:
    """The results the gallery shows under these filters, read from the listing newest
    first, SCAN_PAGE_SIZE a call, at most SCAN_MAX_CALLS calls; it stops once `enough`
    are found, or at the first result older than a date range's start.

    The upstream filters by status and style itself; the trash, tool, date and rating
    are applied here (the upstream knows none of the dashboard's own records)."""
    hidden = trash.hidden_ids() if hidden is None else hidden
    start, _ = filters.time_range
    found = Walk(shown=[], complete=False)
    for page in range(1, SCAN_MAX_CALLS + 1):
        listing = genapi.history(
            page=page, limit=SCAN_PAGE_SIZE, statuses=filters.statuses, style_id=filters.style or None
        )
        found.upstream_total = listing.total_count or 0
        known_reviews = reviews.reviews_of(item.id for item in listing.items) if filters.by_rating else {}
        for item in listing.items:
            if start and item.created_at is not None and item.created_at < start:
                found.complete = True
                return found
            if item.id not in hidden and filters.shows(item, known_reviews.get(item.id), known):
                found.shown.append(item)
            else:
                found.left_out += 1
        if page >= listing.pages or not listing.items:
            found.complete = True
            return found
        if enough is not None and len(found.shown) >= enough:
            return found
    return found


def _listing(filters: Filters, known: Catalogue) -> tuple[list[genapi.HistoryItem], int, int | None, bool]:
    """One page of the gallery: (items, pages, total, whether the search was complete).

    Nothing to leave out: the upstream's own page, one call. Otherwise pages stay full:
    the listing is walked from its start until this page and one more result are found
    (page 1: usually one call). The count is then exact once the walk read to the end;
    with only the trash left out it is the upstream's less the hidden results seen; for
    the other filters it is unknown, and the pages found so far are offered."""
    hidden = trash.hidden_ids()
    if not filters.scans and not hidden:
        listing = genapi.history(
            page=filters.page, limit=filters.limit, statuses=filters.statuses, style_id=filters.style or None
        )
        return listing.items, listing.pages, listing.total_count, True
    first, last = (filters.page - 1) * filters.limit, filters.page * filters.limit
    found = walk(filters, known, enough=last + 1, hidden=hidden)
    items = found.shown[first:last]
    if found.complete:
        total: int | None = len(found.shown)
    elif not filters.scans:
        total = max(found.upstream_total - found.left_out, len(found.shown))
    else:
        total = None
    pages = -(-(total if total is not None else len(found.shown)) // filters.limit)
    complete = found.complete or len(found.shown) > last
    return items, pages, total, complete


def _our_jobs(filters: Filters, designer):
    """The Job rows "made by me" and a run's filter start from."""
    jobs = Job.objects.all()
    if filters.mine:
        jobs = jobs.filter(designer=designer)
    if filters.run:
        jobs = jobs.filter(run_id=filters.run)
    return jobs


def _my_jobs(filters: Filters, designer):
    in_trash = TrashedResult.objects.values("history_item_id")
    jobs = _our_jobs(filters, designer).exclude(history_item_id__in=in_trash)
    if filters.statuses:
        jobs = jobs.filter(status__in=filters.statuses)
    if filters.style:
        jobs = jobs.filter(Q(style_id=filters.style) | Q(tool=filters.style))
    if filters.tool:
        jobs = jobs.filter(tool=filters.tool)
    start, end = filters.time_range
    if start:
        jobs = jobs.filter(created_at__gte=start)
    if end:
        jobs = jobs.filter(created_at__lt=end)
    return jobs.order_by("-created_at", "-id")


def _my_items(filters: Filters, designer) -> tuple[list[genapi.HistoryItem], int, int]:
    """The designer's own jobs, or a run's, which only the dashboard knows, paginated here.

    Finished items come from the cache when they can; running ones from one listing."""
    # Job rows learn that a job finished only when something polls it: bring this
    # designer's running ones up to date first (one listing, plus one read per job that
    # finished), or the status filters would go by stale rows ("Done" missing finished jobs).
    pending = list(
        _our_jobs(filters, designer)
        .filter(status=Job.Status.PENDING)
        .values_list("history_item_id", flat=True)[:MY_RUNNING_REFRESH_LIMIT]
    )
    running = {item_id: item for item_id, item in refresh_jobs(pending).items() if item is not None} if pending else {}
    jobs = _my_jobs(filters, designer)
    paginator = Paginator(jobs, filters.limit)
    page = paginator.get_page(filters.page)
    ids = [job.history_item_id for job in page.object_list]
    items = []
    for item_id in ids:
        try:
            item = running.get(item_id) or genapi.item(item_id)
        except genapi.NotFound:
            not_found([item_id])  # gone, or not yet listed: the one rule decides
            continue
        items.append(item)
    if filters.by_rating:
        # Ratings are the upstream's: "Made by me" pages by our own records, so a rating
        # filter thins each page rather than refilling it.
        found_reviews = reviews.reviews_of(ids)
        items = [item for item in items if filters.rated_as_wanted(item, found_reviews.get(item.id))]
    return items, paginator.num_pages if paginator.count else 0, paginator.count


@dataclass(frozen=True)
class Neighbours:
    previous: tuple[str, int] | None  # (item id, the page it is on)
    next: tuple[str, int] | None
    page: int  # the page the item itself is on


def neighbours(item_id: str, filters: Filters, designer) -> Neighbours:
    """The results before and after one item under the same filters, across page edges;
    none when the upstream cannot be read or the item is not among them."""
    try:
        if filters.scans and not filters.from_our_records:
            return _neighbours_in_walk(item_id, filters)
        return _neighbours_by_pages(item_id, filters, designer)
    except genapi.GenApiError:
        return Neighbours(previous=None, next=None, page=filters.page)


def _neighbours_in_walk(item_id: str, filters: Filters) -> Neighbours:
    """One walk gives every match: the neighbours and the item's page come from it."""
    found = [item.id for item in walk(filters, catalogue()).shown]
    if item_id not in found:
        return Neighbours(previous=None, next=None, page=filters.page)
    index = found.index(item_id)
    return Neighbours(
        previous=(found[index - 1], (index - 1) // filters.limit + 1) if index > 0 else None,
        next=(found[index + 1], (index + 1) // filters.limit + 1) if index + 1 < len(found) else None,
        page=index // filters.limit + 1,
    )


def _neighbours_by_pages(item_id: str, filters: Filters, designer) -> Neighbours:
    def ids_on(page: int) -> tuple[list[str], int]:
        if filters.from_our_records:
            jobs = Paginator(_my_jobs(filters, designer), filters.limit)
            if page > jobs.num_pages:
                return [], jobs.num_pages
            return [job.history_item_id for job in jobs.page(page).object_list], jobs.num_pages
        items, pages, _, _ = _listing(replace(filters, page=page), catalogue())
        return [item.id for item in items], pages

    page, (ids, pages) = filters.page, ids_on(filters.page)
    if item_id not in ids:
        # New results push older ones down a page (and deletions pull them up): a link
        # made a moment ago may name the page next to the item's own.
        nearby = [number for number in (page + 1, page - 1) if 1 <= number <= pages]
        page, ids = next(((number, found) for number in nearby if item_id in (found := ids_on(number)[0])), (0, []))
        if not page:
            return Neighbours(previous=None, next=None, page=filters.page)
    index = ids.index(item_id)
    previous = (ids[index - 1], page) if index > 0 else None
    if previous is None and page > 1:
        before, _ = ids_on(page - 1)
        previous = (before[-1], page - 1) if before else None
    following = (ids[index + 1], page) if index + 1 < len(ids) else None
    if following is None and page < pages:
        after, _ = ids_on(page + 1)
        following = (after[0], page + 1) if after else None
    return Neighbours(previous=previous, next=following, page=page)
