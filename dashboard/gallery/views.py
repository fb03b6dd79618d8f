"""The history gallery: review, rate, delete, one at a time or several together."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling, push_url

from dashboard import genapi
from dashboard.core.http import Gone, HtmxHttpRequest
from dashboard.core.responses import answer_change, render_page, upstream_message
from dashboard.gallery import history, pages, services
from dashboard.gallery.services import Acted

PAGE = "gallery/history.html"
# The session key under which a request without htmx hands its "Undo" to the next page.
UNDO_SESSION_KEY = "undo_trash"


@require_GET
def gallery(request: HtmxHttpRequest) -> HttpResponse:
    filters = pages.read_filters(request.GET)
    context = pages.gallery_context(request, filters, undo_ids=request.session.pop(UNDO_SESSION_KEY, []))
    # A fragment carries the canonical address of this view, whatever the filter form sent.
    return render_page(request, PAGE, context, fragments={"gallery": "gallery"}, canonical_url=context["gallery_url"])


@require_GET
def detail(request: HtmxHttpRequest, item_id: str) -> HttpResponse:
    filters = pages.read_filters(request.GET)
    try:
        item = genapi.item(item_id)
    except genapi.NotFound:
        raise Gone("This result no longer exists. It may have been deleted.") from None
    except genapi.GenApiError as exc:
        context = pages.gallery_context(request, filters, lightbox_problem=upstream_message(exc))
        return render(request, PAGE, context)
    context = pages.detail_context(request, item, filters)
    if request.htmx.target == "lightbox" and not request.htmx.history_restore_request:
        return render(request, f"{PAGE}#lightbox", context)
    return render(request, PAGE, {**pages.gallery_context(request, filters), **context, "lightbox_open": True})


def answer_gallery_change(request: HtmxHttpRequest, acted: Acted) -> HttpResponse:
    """The gallery redrawn with what happened and its Undo; without htmx, the gallery's
    page again, which offers the Undo (and says what went wrong)."""
    filters = pages.read_filters(request.GET)
    if not request.htmx and acted.undo_ids:
        request.session[UNDO_SESSION_KEY] = acted.undo_ids
    notice = acted.notice if request.htmx else acted.said_without_javascript
    response = answer_change(
        request,
        notice,
        fragment=f"{PAGE}#gallery-update",
        context=lambda: pages.gallery_context(request, filters, undo_ids=acted.undo_ids),
        redirect_to=pages.gallery_url(filters),
    )
    if request.htmx and request.htmx.target == "gallery":
        return push_url(response, pages.gallery_url(filters))
    return response


@require_POST
def delete(request: HtmxHttpRequest, item_id: str) -> HttpResponse:
    """Move one result to the trash (hidden at once), with an "Undo" for a few seconds."""
    return answer_gallery_change(request, services.delete_one(request.user, item_id, request.POST.get("title", "")))


@require_POST
def bulk(request: HtmxHttpRequest) -> HttpResponse:
    """Like, dislike or delete several results; failures are listed, the rest stand done."""
    acted = services.act_on_many(request.user, request.POST.get("action"), request.POST.getlist("ids"))
    return answer_gallery_change(request, acted)


@require_GET
def poll(request: HtmxHttpRequest) -> HttpResponse:
    """One request per tick for every running card on the page, O(1) upstream calls."""
    # An id no upstream item can have is never "still running": polling it would never end.
    ids = [i for i in request.GET.get("ids", "").split(",") if genapi.is_valid_id(i)][:100]
    news = pages.poll_news(ids)
    if news.nothing_new(ids):
        # The poller already shows all this: no body. htmx swaps nothing on 204 and
        # polls on; 286 stops it (no id worth polling).
        return HttpResponse(status=204) if news.still_running else HttpResponseStopPolling()
    context = {
        "cards": history.make_cards(news.finished, history.catalogue()) if news.finished else [],
        "gone": news.gone,
        "pending_ids": news.still_running,
        "detail_query": request.GET.get("q", ""),
    }
    response = render(request, f"{PAGE}#poll-update", context)
    # 286 tells htmx to stop polling once nothing runs; the swapped poller carries no trigger either.
    return response if news.still_running else HttpResponseStopPolling(response.content)
