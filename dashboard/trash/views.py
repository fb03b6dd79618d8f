"""The trash: results deleted from the gallery, restorable until they are deleted for
good (here, or by `manage.py purge_trash` after TRASH_DAYS)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from dashboard import genapi
from dashboard.core.http import HtmxHttpRequest, upstream_message
from dashboard.gallery.history import url_for_item
from dashboard.gallery.views import MAX_BULK_ITEMS, gallery_context, read_filters
from dashboard.models import TrashedResult
from dashboard.reviews.views import safe_next
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
    """Bring results back: the toast's "Undo" (for the gallery) or the Trash page's "Restore"."""
    ids = [i for i in dict.fromkeys(request.POST.getlist("ids")) if genapi.is_valid_id(i)][:MAX_BULK_ITEMS]
    restored = sum(trash.restore(request.user, item_id) for item_id in ids)
    text = f"{restored} restored." if restored != 1 else "Restored."
    if request.htmx and request.htmx.target == "gallery":
        form, filters = read_filters(request.GET)
        context = gallery_context(request, form, filters, flash=("ok", text))
        return render(request, "gallery/history.html#gallery-update", context)
    messages.success(request, text)
    return redirect(safe_next(request, fallback=reverse("trash")))


@require_POST
def delete_forever(request: HtmxHttpRequest, item_id: str) -> HttpResponse:
    try:
        problem = trash.delete_forever(request.user, item_id)
    except genapi.GenApiError as exc:
        problem = upstream_message(exc)
    if problem:
        messages.error(request, f"Could not delete it: {problem}")
    else:
        messages.success(request, "Deleted for good.")
    return redirect("trash")


@require_POST
def empty(request: HtmxHttpRequest) -> HttpResponse:
    done, failed = trash.empty(request.user)
    if failed:
        reasons = sorted({reason for _, reason in failed})
        messages.error(request, " ".join([f"{done} deleted for good; {len(failed)} could not be deleted.", *reasons]))
    else:
        messages.success(request, f"The trash is empty: {done} deleted for good.")
    return redirect("trash")
