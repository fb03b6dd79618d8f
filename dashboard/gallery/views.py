"""The history gallery: review, rate, delete, one at a time or several together."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling, push_url

from dashboard import genapi
from dashboard.core import display, jobs
from dashboard.core.http import Gone, HtmxHttpRequest, upstream_message, wants_fragment
from dashboard.gallery import history
from dashboard.gallery.forms import GalleryFilterForm
from dashboard.generate.views import edit_again_url
from dashboard.reviews import services as reviews
from dashboard.reviews.views import review_context
from dashboard.trash import services as trash

BULK_ACTIONS = {"like": "liked", "dislike": "disliked", "delete": "moved to the trash"}
# The session key under which a request without htmx hands its "Undo" to the next page.
UNDO_SESSION_KEY = "undo_trash"
MAX_BULK_ITEMS = 100


def read_filters(source) -> tuple[GalleryFilterForm, history.Filters]:
    form = GalleryFilterForm(source)
    return form, form.filters()


def with_query(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


def gallery_url(filters: history.Filters, **changes) -> str:
    return with_query(reverse("history"), filters.query(**changes))


def gallery_context(request: HtmxHttpRequest, form: GalleryFilterForm, filters: history.Filters, **extra) -> dict:
    known = history.catalogue()
    page = history.load_page(filters, request.user, known)
    pagination = [
        (number, gallery_url(filters, page=number) if isinstance(number, int) else None) for number in page.page_links
    ]
    return {
        "pagination": pagination,
        "nav_active": "history",
        "filter_form": form,
        "filters": filters,
        "gallery": page,
        "catalogue": known,
        "gallery_url": gallery_url(filters),
        "without_run_url": gallery_url(filters, run=None, page=1) if filters.run else "",
        **extra,
    }


def undo_later(request: HtmxHttpRequest, item_ids: list[str]) -> None:
    """Without htmx the answer is a redirect: the page it leads to offers the "Undo"."""
    if item_ids:
        request.session[UNDO_SESSION_KEY] = item_ids


@require_GET
def gallery(request: HtmxHttpRequest) -> HttpResponse:
    form, filters = read_filters(request.GET)
    context = gallery_context(request, form, filters, undo_ids=request.session.pop(UNDO_SESSION_KEY, []))
    if wants_fragment(request, "gallery"):
        # The canonical address of this view, whatever the filter form sent.
        return push_url(render(request, "gallery/history.html#gallery", context), context["gallery_url"])
    return render(request, "gallery/history.html", context)


def detail_context(request: HtmxHttpRequest, item: genapi.HistoryItem, filters: history.Filters) -> dict:
    (card,) = history.make_cards([item], history.catalogue())
    around = history.neighbours(item.id, filters, request.user)
    inputs = list(card.job.inputs.all()) if card.job else []
    return {
        **review_context(item.id, card.like, card.review),
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
        # Where focus goes once this result is deleted (app.js).
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


@require_GET
def detail(request: HtmxHttpRequest, item_id: str) -> HttpResponse:
    form, filters = read_filters(request.GET)
    try:
        item = genapi.item(item_id)
    except genapi.NotFound:
        raise Gone("This result no longer exists. It may have been deleted.") from None
    except genapi.GenApiError as exc:
        context = gallery_context(request, form, filters, lightbox_problem=upstream_message(exc))
        return render(request, "gallery/history.html", context, status=200)
    context = detail_context(request, item, filters)
    if wants_fragment(request, "lightbox"):
        return render(request, "gallery/history.html#lightbox", context)
    return render(
        request, "gallery/history.html", {**gallery_context(request, form, filters), **context, "lightbox_open": True}
    )


@require_POST
def delete(request: HtmxHttpRequest, item_id: str) -> HttpResponse:
    """Move one result to the trash (hidden at once), with an "Undo" for a few seconds."""
    form, filters = read_filters(request.GET)
    undo_ids, message = [], None
    try:
        if trash.move_to_trash(request.user, item_id, title=request.POST.get("title", "")):
            undo_ids = [item_id]
        else:
            message = ("ok", "It was already deleted.")
    except genapi.GenApiError as exc:
        message = ("error", f"Could not delete it: {upstream_message(exc)}")
    if not request.htmx:
        if message:
            messages.error(request, message[1])  # said on the page the redirect leads to
        undo_later(request, undo_ids)
        return redirect(gallery_url(filters))
    context = gallery_context(request, form, filters, flash=message, undo_ids=undo_ids)
    response = render(request, "gallery/history.html#gallery-update", context)
    return push_url(response, gallery_url(filters)) if request.htmx.target == "gallery" else response


def unratable(item: genapi.HistoryItem) -> str:
    """Why a result cannot be liked or disliked, or "" when it can: only finished images are rated."""
    if item.is_error:
        return "failed results cannot be rated"
    if item.is_pending:
        return "running results cannot be rated until they finish"
    return ""


@require_POST
def bulk(request: HtmxHttpRequest) -> HttpResponse:
    """Like, dislike or delete several results; failures are listed, the rest stand done."""
    form, filters = read_filters(request.GET)
    action = request.POST.get("action")
    ids = list(dict.fromkeys(request.POST.getlist("ids")))[:MAX_BULK_ITEMS]
    undo_ids: list[str] = []
    if action not in BULK_ACTIONS or not ids:
        flash = ("error", "Select at least one result and an action.")
    else:
        done, failed, skipped = 0, [], []
        for item_id in ids:
            try:
                if action == "delete":
                    if trash.move_to_trash(request.user, item_id, bulk=True):
                        undo_ids.append(item_id)
                elif reason := unratable(genapi.item(item_id)):
                    skipped.append(reason)
                    continue
                else:
                    reviews.rate(request.user, item_id, action == "like", bulk=True)
                done += 1
            except genapi.GenApiError as exc:
                failed.append((item_id, upstream_message(exc)))
        summary = f"{done} {BULK_ACTIONS[action]}"
        if skipped:
            summary += f"; {len(skipped)} skipped: {', '.join(dict.fromkeys(skipped))}"
        flash = ("ok", f"{summary}.")
        if failed:
            flash = ("error", f"{summary}; {len(failed)} failed.", failed)
    if not request.htmx:
        if flash[0] == "error":
            reasons = sorted({reason for _, reason in flash[2]}) if len(flash) > 2 else []
            messages.error(request, " ".join([flash[1], *reasons]))
        elif "skipped" in flash[1]:
            messages.info(request, flash[1])  # what was not done is said, also without htmx
        undo_later(request, undo_ids)
        return redirect(gallery_url(filters))
    context = gallery_context(request, form, filters, flash=flash, undo_ids=undo_ids)
    return render(request, "gallery/history.html#gallery-update", context)


@require_GET
def poll(request: HtmxHttpRequest) -> HttpResponse:
    """One request per tick for every running card on the page, O(1) upstream calls."""
    # An id no upstream item can have is never "still running": polling it would never end.
    ids = [i for i in request.GET.get("ids", "").split(",") if genapi.is_valid_id(i)][:100]
    try:
        found = jobs.refresh(ids)
    except genapi.GenApiError:
        found = {}
    still_running = [
        item_id for item_id in ids if item_id not in found or (found[item_id] is not None and found[item_id].is_pending)
    ]
    finished = [item for item in found.values() if item is not None and not item.is_pending]
    gone = [item_id for item_id, item in found.items() if item is None]
    if still_running == ids and not finished and not gone:
        # The poller already shows all this: no body. htmx swaps nothing on 204 and
        # polls on; 286 stops it (no id worth polling).
        return HttpResponse(status=204) if still_running else HttpResponseStopPolling()
    context = {
        "cards": history.make_cards(finished, history.catalogue()) if finished else [],
        "gone": gone,
        "pending_ids": still_running,
        "detail_query": request.GET.get("q", ""),
    }
    response = render(request, "gallery/history.html#poll-update", context)
    if not still_running:
        # 286 tells htmx to stop polling; the swapped poller carries no trigger either.
        stop = HttpResponseStopPolling(response.content)
        return stop
    return response
