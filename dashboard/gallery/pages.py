"""What the gallery page shows: its filters read from the URL, its addresses, a page of
result cards, and the lightbox of one result with its neighbours."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse

from dashboard import genapi
from dashboard.core import display, polling
from dashboard.core.catalogue import catalogue
from dashboard.core.http import HtmxHttpRequest
from dashboard.gallery import history, news
from dashboard.gallery.forms import GalleryFilterForm
from dashboard.generate.services import edit_again_url
from dashboard.index import status as index_status
from dashboard.models import IndexedResult, Run
from dashboard.reviews.services import review_panel
from dashboard.runs import services as runs


def read_filters(source) -> history.Filters:
    """The gallery's filters in the URL; a bad value falls back to its default."""
    return GalleryFilterForm(source).filters()


def dates_note(source) -> str:
    """What to say when the custom dates came the wrong way round (they are put in order)."""
    form = GalleryFilterForm(source)
    filters = form.filters()
    if not form.dates_swapped or filters.date_from is None or filters.date_to is None:
        return ""
    start, end = (f"{day.day} {day:%B %Y}" for day in (filters.date_from, filters.date_to))
    return f"From was after To, so the dates were swapped: showing {start} to {end}."


def with_query(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


def gallery_url(filters: history.Filters, **changes) -> str:
    return with_query(reverse("history"), filters.query(**changes))


def filtered_run(run_id: int | None) -> Run | None:
    """The run a page is narrowed to, for its chip: its name, else "Run #N"."""
    return Run.objects.filter(pk=run_id).only("name").first() if run_id else None


def gallery_context(request: HtmxHttpRequest, filters: history.Filters, **extra) -> dict:
    known = catalogue()
    page = history.load_page(filters, request.user, known)
    since = news.mark(history.matching(filters, request.user), page.first_row)
    pagination = [
        (number, gallery_url(filters, page=number) if isinstance(number, int) else None) for number in page.page_links
    ]
    return {
        "pagination": pagination,
        "nav_active": "history",
        "filter_form": GalleryFilterForm.showing(filters, known),
        "filters": filters,
        "gallery": page,
        "catalogue": known,
        "gallery_url": gallery_url(filters),
        # What the page asks for news since it was drawn (news.py); gallery.js adds what it shows.
        "news_url": with_query(
            reverse("history_news"), "&".join(filter(None, [filters.query(), urlencode({"since": since})]))
        ),
        "news_poll_seconds": polling.NEWS_POLL_SECONDS,
        "without_run_url": gallery_url(filters, run=None, page=1) if filters.run else "",
        "filtered_run": filtered_run(filters.run),
        "without_inputs_url": gallery_url(filters, inputs=(), page=1) if filters.inputs else "",
        "index_status": index_status.current(),
        **extra,
    }


def detail_context(request: HtmxHttpRequest, row: IndexedResult, filters: history.Filters) -> dict:
    (card,) = history.make_cards([row], catalogue())
    item = card.item
    around = history.neighbours(item.id, filters, request.user)
    inputs = list(card.job.inputs.all()) if card.job else []
    return {
        **review_panel(item.id, card.like, card.review),
        "card": card,
        "inputs": inputs,
        "edit_again_url": edit_again_url(card.job) if card.job and inputs else "",
        "before_image": next((entry.image for entry in inputs if entry.slot in ("person", "room", "product")), None),
        **lightbox_links(request, item.id, filters, around),
        **reruns_context(request, item.id, filters),
        # Where focus goes once this result is deleted (gallery.js).
        "next_id": around.next[0] if around.next else "",
        "previous_id": around.previous[0] if around.previous else "",
        "duration": display.duration(item.created_at, card.finished_at),
        "detail_query": filters.query(),
        "fields": sorted(
            {
                **item.extra,
                "id": item.id,
                "status": item.raw_status,
                "tool": item.tool,
                "style_id": item.style_id,
                "created_at": item.created_at.isoformat() if item.created_at else None,
                "like": item.like,
            }.items()
        ),
    }


# `back=run` on a lightbox's address: it was opened from the run page (its cells' links,
# runs/live.py), so closing it goes back there; previous and next keep it.
BACK_TO_RUN = "run"


def lightbox_links(
    request: HtmxHttpRequest, item_id: str, filters: history.Filters, around: history.Neighbours
) -> dict:
    """The lightbox's previous, next and close addresses."""
    extra = back_to_run(request, filters)
    from_run = bool(extra)

    def detail_url(neighbour: tuple[str, int] | None) -> str | None:
        if neighbour is None:
            return None
        return with_query(reverse("history_item", args=[neighbour[0]]), filters.query(page=neighbour[1])) + extra

    return {
        "previous_url": detail_url(around.previous),
        "next_url": detail_url(around.next),
        # This lightbox's own address, and its query for the forms in it (back=run kept).
        "lightbox_url": detail_url((item_id, around.page)),
        "lightbox_query": filters.query(page=around.page) + extra,
        "close_url": run_page_url(filters.run or 0, item_id) if from_run else gallery_url(filters, page=around.page),
        "closes_to_run": from_run,
    }


def reruns_context(request: HtmxHttpRequest, item_id: str, filters: history.Filters) -> dict:
    """The results "Run again" made from this one, as the lightbox shows them (each
    opens in the lightbox), and those still running, which it follows."""
    cards = history.make_cards(history.reruns_of(item_id), catalogue())
    return {
        "reruns_of": item_id,
        "reruns": cards,
        "reruns_running": [card.item.id for card in cards if card.item.is_pending],
        "rerun_query": filters.query() + back_to_run(request, filters),
    }


def following(request: HtmxHttpRequest, item_id: str, filters: history.Filters) -> str | None:
    """The result the lightbox shows once this one is deleted: the next, else the previous."""
    around = history.neighbours(item_id, filters, request.user)
    shown = around.next or around.previous
    return shown[0] if shown else None


def back_to_run(request: HtmxHttpRequest, filters: history.Filters) -> str:
    """`&back=run` when the lightbox was opened from the run page, for the addresses it leads to."""
    from_run = bool(filters.run) and request.GET.get("back") == BACK_TO_RUN
    return f"&{urlencode({'back': BACK_TO_RUN})}" if from_run else ""


def lightbox_address(request: HtmxHttpRequest, item_id: str, filters: history.Filters) -> str:
    """A result's lightbox page under these filters, as the browser is sent on to after
    a change made in the lightbox without JavaScript."""
    return with_query(reverse("history_item", args=[item_id]), filters.query() + back_to_run(request, filters))


def run_page_url(run_id: int, item_id: str) -> str:
    """The run page, at the cell that made this result (when it is the cell's latest)."""
    cell = runs.cell_of(run_id, item_id)
    url = reverse("run", args=[run_id])
    return f"{url}#cell-{cell}" if cell else url


@dataclass
class News:
    """What a poll of the gallery's running cards learnt."""

    still_running: list[str]
    finished: list[IndexedResult]
    gone: list[str]

    def nothing_new(self, asked: list[str]) -> bool:
        return self.still_running == asked and not self.finished and not self.gone


def poll_news(ids: list[str]) -> News:
    """The running cards' news, from the index (the sync process follows their statuses)."""
    rows = {row.history_item_id: row for row in IndexedResult.objects.filter(history_item_id__in=ids)}
    return News(
        still_running=[item_id for item_id in ids if item_id in rows and rows[item_id].status == genapi.Status.PENDING],
        finished=[row for row in rows.values() if row.status != genapi.Status.PENDING],
        gone=[item_id for item_id in ids if item_id not in rows],
    )


@dataclass
class GalleryNews:
    """What a gallery drawn earlier asked for (news.py): results added since, and its
    cards and lightbox as the index says they are now."""

    new_count: int
    count_changed: bool
    cards: news.Changes
    lightbox: news.Changes

    @property
    def nothing_new(self) -> bool:
        return not self.count_changed and not self.cards and not self.lightbox


def gallery_news(request: HtmxHttpRequest, filters: history.Filters) -> GalleryNews:
    """The news of an open gallery: `since` its mark, `showing` the count its notice says,
    `card` and `lightbox` the states it shows (`state:id`, gallery.js)."""
    since = news.Mark.read(request.GET.get("since", ""))
    count = news.count_new(filters, request.user, since) if since else 0
    showing = request.GET.get("showing", "0")
    return GalleryNews(
        new_count=count,
        count_changed=str(count) != showing,
        cards=news.changes(news.read_shown(request.GET.getlist("card"))),
        lightbox=news.changes(news.read_shown(request.GET.getlist("lightbox")[:1])),
    )


def news_context(filters: history.Filters, found: GalleryNews) -> dict:
    """What the news partial draws: the notice, the cards to draw again or mark removed,
    and the open lightbox's review (or that its result was removed)."""
    known = catalogue()
    context: dict = {
        "new_count": found.new_count,
        "newest_url": gallery_url(filters, page=1),
        "cards": history.make_cards(found.cards.rows, known),
        "removed_cards": found.cards.removed,
        "detail_query": filters.query(),
        "lightbox_removed": found.lightbox.removed[0] if found.lightbox.removed else None,
    }
    if found.lightbox.rows:
        (card,) = history.make_cards(found.lightbox.rows, known)
        context |= {"lightbox_card": card, **review_panel(card.item.id, card.like, card.review)}
    return context
