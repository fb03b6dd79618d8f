"""What the gallery page shows: its filters read from the URL, its addresses, a page of
result cards, and the lightbox of one result with its neighbours."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from dashboard import genapi
from dashboard.core import display
from dashboard.core.http import HtmxHttpRequest
from dashboard.gallery import history
from dashboard.gallery.forms import GalleryFilterForm
from dashboard.generate.services import edit_again_url
from dashboard.jobs import services as jobs
from dashboard.reviews.services import review_panel


def read_filters(source) -> history.Filters:
    """The gallery's filters in the URL; a bad value falls back to its default."""
    return GalleryFilterForm(source).filters()


def with_query(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


def gallery_url(filters: history.Filters, **changes) -> str:
    return with_query(reverse("history"), filters.query(**changes))


def gallery_context(request: HtmxHttpRequest, filters: history.Filters, **extra) -> dict:
    known = history.catalogue()
    page = history.load_page(filters, request.user, known)
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
        "without_run_url": gallery_url(filters, run=None, page=1) if filters.run else "",
        **extra,
    }


def detail_context(request: HtmxHttpRequest, item: genapi.HistoryItem, filters: history.Filters) -> dict:
    (card,) = history.make_cards([item], history.catalogue())
    around = history.neighbours(item.id, filters, request.user)
    inputs = list(card.job.inputs.all()) if card.job else []
    return {
        **review_panel(item.id, card.like, card.review),
        "card": card,
        "inputs": inputs,
        "edit_again_url": edit_again_url(card.job) if card.job and inputs else "",
        "before_image": next((entry.image for entry in inputs if entry.slot in ("person", "room", "product")), None),
        "previous_url": with_query(
            reverse("history_item", args=[around.previous[0]]), filters.query(page=around.previous[1])
        )
        if around.previous
        else None,
        "next_url": with_query(reverse("history_item", args=[around.next[0]]), filters.query(page=around.next[1]))
        if around.next
        else None,
        "close_url": gallery_url(filters, page=around.page),
        # Where focus goes once this result is deleted (gallery.js).
        "next_id": around.next[0] if around.next else "",
        "previous_id": around.previous[0] if around.previous else "",
        "duration": display.duration(item.created_at, history.finished_at(item, card.job)),
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


@dataclass
class News:
    """What a poll of the gallery's running cards learnt."""

    still_running: list[str]
    finished: list[genapi.HistoryItem]
    gone: list[str]

    def nothing_new(self, asked: list[str]) -> bool:
        return self.still_running == asked and not self.finished and not self.gone


def poll_news(ids: list[str]) -> News:
    """The running cards' news, at O(1) upstream calls (jobs.refresh); an upstream that
    cannot be read tells nothing new."""
    try:
        found = jobs.refresh(ids)
    except genapi.GenApiError:
        found = {}
    running = [item_id for item_id in ids if item_id not in found or ((item := found[item_id]) and item.is_pending)]
    return News(
        still_running=running,
        finished=[item for item in found.values() if item is not None and not item.is_pending],
        gone=[item_id for item_id, item in found.items() if item is None],
    )
