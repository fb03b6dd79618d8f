"""The gallery's own logic: which page of results to show, as cards, and what is around one.

Everything upstream goes through genapi; this module adds what the dashboard knows
(who made a job, its inputs) and the catalogue's titles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from urllib.parse import quote, urlencode

from django.core.paginator import Paginator
from django.db.models import Q
from django.urls import reverse

from dashboard import display, genapi
from dashboard.jobs import refresh as refresh_jobs
from dashboard.models import InputImage, Job

# "Made by me" brings this many of the designer's running jobs up to date per page view.
MY_RUNNING_REFRESH_LIMIT = 100


@dataclass(frozen=True)
class Filters:
    statuses: tuple[str, ...] = ()
    style: str = ""
    limit: int = 20
    mine: bool = False
    page: int = 1

    def query(self, **changes) -> str:
        """The URL query for these filters (with changes), defaults left out."""
        values = {**self.__dict__, **changes}
        pairs: list[tuple[str, object]] = [("status", status) for status in values["statuses"]]
        if values["style"]:
            pairs.append(("style", values["style"]))
        if values["limit"] != 20:
            pairs.append(("limit", values["limit"]))
        if values["mine"]:
            pairs.append(("mine", "1"))
        if values["page"] != 1:
            pairs.append(("page", values["page"]))
        return urlencode(pairs)


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
    designer_name: str = field(init=False)
    preview_url: str = field(init=False)
    detail_url: str = field(init=False)
    age: str = field(init=False)
    exact_time: str = field(init=False)
    iso_time: str = field(init=False)
    garment_url: str = field(init=False)

    def __post_init__(self) -> None:
        created = self.item.created_at
        self.age = display.age(created)
        self.exact_time = display.exact_time(created)
        self.iso_time = created.isoformat() if created else ""
        self.garment_url = reverse("input_image", args=[self.garment.pk, "thumbnail"]) if self.garment else ""
        self.designer_name = self.job.designer.get_username() if self.job and self.job.designer else ""
        self.preview_url = url_for_item("result_image", self.item.id, "preview")
        self.detail_url = url_for_item("history_item", self.item.id)


@dataclass
class GalleryPage:
    cards: list[Card]
    filters: Filters
    pages: int
    total_count: int | None
    problem: str | None = None
    page_links: list = field(default_factory=list)

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
            )
        )
    return cards


def load_page(filters: Filters, designer, known: Catalogue) -> GalleryPage:
    """One page of results from the upstream (or, for "made by me", from our own records)."""
    try:
        if filters.mine:
            items, pages, total = _my_items(filters, designer)
        else:
            listing = genapi.history(
                page=filters.page, limit=filters.limit, statuses=filters.statuses, style_id=filters.style or None
            )
            items, pages, total = listing.items, listing.pages, listing.total_count
    except genapi.GenApiError as exc:
        return GalleryPage(cards=[], filters=filters, pages=0, total_count=None, problem=exc.message)
    result = GalleryPage(cards=make_cards(items, known), filters=filters, pages=pages, total_count=total)
    if pages > 1:
        paginator = Paginator(range(pages), 1)
        result.page_links = list(paginator.get_elided_page_range(min(filters.page, pages), on_each_side=2, on_ends=1))
    return result


def _my_jobs(filters: Filters, designer):
    jobs = Job.objects.filter(designer=designer)
    if filters.statuses:
        jobs = jobs.filter(status__in=filters.statuses)
    if filters.style:
        jobs = jobs.filter(Q(style_id=filters.style) | Q(tool=filters.style))
    return jobs.order_by("-created_at", "-id")


def _my_items(filters: Filters, designer) -> tuple[list[genapi.HistoryItem], int, int]:
    """The designer's own jobs, which only the dashboard knows, paginated here.

    Finished items come from the cache when they can; running ones from one listing."""
    # Job rows learn that a job finished only when something polls it: bring this
    # designer's running ones up to date first (one listing, plus one read per job that
    # finished), or the status filters would go by stale rows ("Done" missing finished jobs).
    pending = list(
        Job.objects.filter(designer=designer, status=Job.Status.PENDING).values_list("history_item_id", flat=True)[
            :MY_RUNNING_REFRESH_LIMIT
        ]
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
            Job.objects.filter(history_item_id=item_id).delete()
            continue
        items.append(item)
    return items, paginator.num_pages if paginator.count else 0, paginator.count


@dataclass(frozen=True)
class Neighbours:
    previous: tuple[str, int] | None  # (item id, the page it is on)
    next: tuple[str, int] | None
    page: int  # the page the item itself is on


def neighbours(item_id: str, filters: Filters, designer) -> Neighbours:
    """The results before and after one item under the same filters, across page edges."""

    def ids_on(page: int) -> tuple[list[str], int]:
        if filters.mine:
            jobs = Paginator(_my_jobs(filters, designer), filters.limit)
            if page > jobs.num_pages:
                return [], jobs.num_pages
            return [job.history_item_id for job in jobs.page(page).object_list], jobs.num_pages
        listing = genapi.history(
            page=page, limit=filters.limit, statuses=filters.statuses, style_id=filters.style or None
        )
        return [item.id for item in listing.items], listing.pages

    try:
        page, ids, pages = filters.page, *ids_on(filters.page)
        if item_id not in ids:
            # New results push older ones down a page (and deletions pull them up): a
            # link made a moment ago may name the page next to the item's own.
            for nearby in (page + 1, page - 1):
                if 1 <= nearby <= pages and item_id in (found := ids_on(nearby)[0]):
                    page, ids = nearby, found
                    break
            else:
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
    except genapi.GenApiError:
        return Neighbours(previous=None, next=None, page=filters.page)
    return Neighbours(previous=previous, next=following, page=page)
