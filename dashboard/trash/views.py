"""The trash: results deleted from the gallery, restorable until they are deleted for
good (here, or by `manage.py purge_trash` after TRASH_DAYS)."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from dashboard import genapi
from dashboard.core.http import HtmxHttpRequest, safe_next
from dashboard.core.responses import Notice, see_other, upstream_message
from dashboard.gallery import pages
from dashboard.gallery.history import url_for_item
from dashboard.gallery.services import MAX_BULK_ITEMS
from dashboard.models import TrashedResult
from dashboard.trash import services as trash

TRASH_PAGE_SIZE = 48


@require_GET
def trash_page(request: HtmxHttpRequest) -> HttpResponse:
    page = Paginator(TrashedResult.objects.all(), TRASH_PAGE_SIZE).get_page(request.GET.get("page"))
    entries = [(row, url_for_item("result_image", row.history_item_id, "preview")) for row in page.object_list]
    return render(
        request,
        "trash/trash.html",
        {"nav_active": "trash", "page": page, "entries": entries, "trash_days": settings.TRASH_DAYS},
    )


@require_POST
def restore(request: HtmxHttpRequest) -> HttpResponse:
    """Bring results back: the toast's "Undo" (the gallery redrawn in place) or the Trash
    page's "Restore"."""
    ids = [i for i in dict.fromkeys(request.POST.getlist("ids")) if genapi.is_valid_id(i)][:MAX_BULK_ITEMS]
    restored = sum(trash.restore(request.user, item_id) for item_id in ids)
    notice = Notice(f"{restored} restored." if restored != 1 else "Restored.")
    if request.htmx and request.htmx.target == "gallery":
        filters = pages.read_filters(request.GET)
        context = pages.gallery_context(request, filters, notice=notice)
        return render(request, "gallery/history.html#gallery-update", context)
    notice.tell(request)
    return see_other(safe_next(request, fallback=reverse("trash")))


@require_POST
def delete_forever(request: HtmxHttpRequest, item_id: str) -> HttpResponse:
    try:
        problem = trash.delete_forever(request.user, item_id)
    except genapi.GenApiError as exc:
        problem = upstream_message(exc)
    notice = Notice(f"Could not delete it: {problem}", "error") if problem else Notice("Deleted for good.")
    notice.tell(request)
    return see_other(reverse("trash"))


@require_POST
def empty(request: HtmxHttpRequest) -> HttpResponse:
    done, failed = trash.empty(request.user)
    if failed:
        text = f"{done} deleted for good; {len(failed)} could not be deleted."
        notice = Notice(text, "error", tuple(failed))
    else:
        notice = Notice(f"The trash is empty: {done} deleted for good.")
    notice.tell(request)
    return see_other(reverse("trash"))
