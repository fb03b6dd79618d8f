"""The history gallery: review, rate, delete, one at a time or several together."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling, push_url, replace_url, reswap

from dashboard import genapi
from dashboard.core.catalogue import catalogue
from dashboard.core.http import Gone, HtmxHttpRequest, wants_fragment
from dashboard.core.responses import Notice, answer_change, render_page, see_other, upstream_message
from dashboard.gallery import compare, history, pages, services
from dashboard.gallery.services import Acted
from dashboard.generate import services as generate
from dashboard.index import services as index
from dashboard.models import IndexedResult, Job

PAGE = "gallery/history.html"
# The session key under which a request without htmx hands its "Undo" to the next page.
UNDO_SESSION_KEY = "undo_trash"
# The same for the lightbox: what a change made in it says there (a result's Undo, a problem).
LIGHTBOX_SESSION_KEY = "lightbox_said"
# Where the lightbox's Run again shows its job when the same form was sent already.
RERUNS_PLACE = "here, under New attempts"


@require_GET
def gallery(request: HtmxHttpRequest) -> HttpResponse:
    filters = pages.read_filters(request.GET)
    undo_ids = request.session.pop(UNDO_SESSION_KEY, [])
    context = pages.gallery_context(request, filters, undo_ids=undo_ids, dates_note=pages.dates_note(request.GET))
    # A fragment carries the canonical address of this view, whatever the filter form sent,
    # and the folded filter form's count ("Filters (n)") along with it.
    return render_page(
        request, PAGE, context, fragments={"gallery": "gallery-filtered"}, canonical_url=context["gallery_url"]
    )


@require_GET
def detail(request: HtmxHttpRequest, item_id: str) -> HttpResponse:
    filters = pages.read_filters(request.GET)
    try:
        row = index.find(item_id)
    except genapi.NotFound:  # an id no result can have
        row = None
    except genapi.GenApiError as exc:
        context = pages.gallery_context(request, filters, lightbox_problem=upstream_message(exc))
        return render(request, PAGE, context)
    if row is None:
        raise Gone("This result no longer exists. It may have been deleted.")
    if wants_fragment(request, "lightbox-reruns"):
        return reruns(request, item_id, filters)
    context = {**pages.detail_context(request, row, filters), **said_in_lightbox(request, item_id)}
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


def reruns(request: HtmxHttpRequest, item_id: str, filters: history.Filters) -> HttpResponse:
    """The lightbox's results run again, asked while some run: 204 while the same ones
    still run (nothing to redraw), else drawn again, saying which ended."""
    context = pages.reruns_context(request, item_id, filters)
    running = [found for found in request.GET.get("running", "").split(",") if found]
    if running == context["reruns_running"]:
        return HttpResponse(status=204)
    ended = [card for card in context["reruns"] if card.item.id in running and not card.item.is_pending]
    return render(request, f"{PAGE}#reruns", {**context, "reruns_ended": ended})


def said_in_lightbox(request: HtmxHttpRequest, item_id: str) -> dict:
    """What a change made in the lightbox without JavaScript left for it to say."""
    said = request.session.get(LIGHTBOX_SESSION_KEY)
    if not isinstance(said, dict) or said.get("shown") != item_id:
        return {}
    del request.session[LIGHTBOX_SESSION_KEY]
    notice = Notice(said["text"], said["level"]) if said.get("text") else None
    return {"lightbox_notice": notice, "lightbox_undo": said.get("undo")}


def tell_lightbox(
    request: HtmxHttpRequest, shown_id: str, filters: history.Filters, notice: Notice | None, undo: dict | None = None
) -> HttpResponse:
    """Without JavaScript: on to the lightbox's page of `shown_id`, which says `notice`
    (and offers `undo`) in the dialog, above which the page's own messages would hide."""
    text, level = (notice.text, notice.level) if notice else ("", "ok")
    request.session[LIGHTBOX_SESSION_KEY] = {"shown": shown_id, "text": text, "level": level, "undo": undo}
    return see_other(pages.lightbox_address(request, shown_id, filters))


def answer_in_lightbox(
    request: HtmxHttpRequest, shown_id: str, notice: Notice | None = None, undo: dict | None = None
) -> HttpResponse:
    """After a change made in the lightbox: it shows `shown_id`, saying `notice` or
    offering `undo` in the dialog itself (the page's toasts sit below a modal), and the
    gallery behind is drawn again. Without JavaScript, that result's page, likewise."""
    filters = pages.read_filters(request.GET)
    row = IndexedResult.objects.filter(history_item_id=shown_id, in_trash=False).first()
    if row is None:  # gone meanwhile: the gallery says what happened
        return answer_gallery_change(request, Acted(notice, [undo["id"]] if undo else []))
    if not request.htmx:
        return tell_lightbox(request, shown_id, filters, notice, undo)
    context = {
        **pages.gallery_context(request, filters),
        **pages.detail_context(request, row, filters),
        "lightbox_notice": notice,
        "lightbox_undo": undo,
    }
    return replace_url(render(request, f"{PAGE}#gallery-update", context), context["lightbox_url"])


@require_POST
def delete(request: HtmxHttpRequest, item_id: str) -> HttpResponse:
    """Move one result to the trash (hidden at once), with an "Undo" for a few seconds.
    From the lightbox, it goes on to the next result (else the previous), the Undo there."""
    filters = pages.read_filters(request.GET)
    in_lightbox = request.POST.get("shown_in") == "lightbox" and genapi.is_valid_id(item_id)
    following = pages.following(request, item_id, filters) if in_lightbox else None
    title = request.POST.get("title", "")
    acted = services.delete_one(request.user, item_id, title)
    if in_lightbox and acted.notice and acted.notice.is_error:
        return answer_in_lightbox(request, item_id, notice=acted.notice)
    if following is None:
        return answer_gallery_change(request, acted)
    undo = {"id": item_id, "title": title} if acted.undo_ids else None
    return answer_in_lightbox(request, following, notice=acted.notice, undo=undo)


@require_POST
def restore(request: HtmxHttpRequest, item_id: str) -> HttpResponse:
    """The lightbox's Undo of a delete: the result comes back, and the lightbox shows it again."""
    if not genapi.is_valid_id(item_id):
        raise Gone("This result does not exist.")
    services.restore_one(request.user, item_id)
    if not IndexedResult.objects.filter(history_item_id=item_id, in_trash=False).exists():
        gone = Notice("It was deleted for good meanwhile, so it cannot come back.", "error")
        return answer_gallery_change(request, Acted(gone))
    return answer_in_lightbox(request, item_id, notice=Notice("Restored."))


@require_POST
def rerun(request: HtmxHttpRequest, item_id: str) -> HttpResponse:
    """The lightbox's Run again: the new job is sent and shows in the lightbox, running
    and then done, so the review goes on; what went wrong is said there."""
    if not genapi.is_valid_id(item_id):
        raise Gone("This job does not exist.")
    job = get_object_or_404(Job, history_item_id=item_id)
    token = request.POST.get("submission", "")
    problem = generate.run_again(request.user, job, token, shown_in=RERUNS_PLACE)
    notice = Notice(problem, "error") if problem else Notice("Sent again: the new result shows here.")
    filters = pages.read_filters(request.GET)
    if not request.htmx:
        return tell_lightbox(request, item_id, filters, notice)
    context = {**pages.reruns_context(request, item_id, filters), "rerun_notice": notice}
    return render(request, f"{PAGE}#reruns-update", context)


@require_POST
def bulk(request: HtmxHttpRequest) -> HttpResponse:
    """Like, dislike or delete several results; failures are listed, the rest stand done.
    Compare opens the compare page for two to four of them."""
    if request.POST.get("action") == "compare":
        return compare_selected(request)
    acted = services.act_on_many(request.user, request.POST.get("action"), request.POST.getlist("ids"))
    return answer_gallery_change(request, acted)


def compare_selected(request: HtmxHttpRequest) -> HttpResponse:
    ids = list(dict.fromkeys(request.POST.getlist("ids")))
    refusal = compare.selection_refusal(len(ids))
    if refusal:
        return answer_gallery_change(request, Acted(Notice(refusal, "error")))
    url = compare.compare_url(ids, pages.read_filters(request.GET))
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_GET
def compare_page(request: HtmxHttpRequest) -> HttpResponse:
    """Two to four results side by side, each with its inputs, from the index alone."""
    filters = pages.read_filters(request.GET)
    comparison = compare.side_by_side(request.user, compare.read_ids(request.GET.getlist("ids")))
    context = {
        "comparison": comparison,
        "back_url": pages.gallery_url(filters),
        "detail_query": filters.query(),
        "nav_active": "history",
    }
    return render(request, "gallery/compare.html", context)


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
        "cards": history.make_cards(news.finished, catalogue()) if news.finished else [],
        "gone": news.gone,
        "pending_ids": news.still_running,
        "detail_query": request.GET.get("q", ""),
    }
    response = render(request, f"{PAGE}#poll-update", context)
    # 286 tells htmx to stop polling once nothing runs; the swapped poller carries no trigger either.
    return response if news.still_running else HttpResponseStopPolling(response.content)


@require_GET
def news(request: HtmxHttpRequest) -> HttpResponse:
    """What changed since an open gallery was drawn: a count of the results added above
    it (never the cards themselves), and its cards and lightbox rated, deleted or
    restored by someone else. 204 when it already shows all that."""
    filters = pages.read_filters(request.GET)
    found = pages.gallery_news(request, filters)
    if found.nothing_new:
        return HttpResponse(status=204)
    response = render(request, f"{PAGE}#news-update", pages.news_context(filters, found))
    # The notice is said again only when its number changed (it is a polite live region).
    return response if found.count_changed else reswap(response, "none")
