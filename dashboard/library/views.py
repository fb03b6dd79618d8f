"""The input library page: browse, add, rename, tag, archive; and the picker of the
generate form's slots. The rules live in dashboard/library/services.py."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import push_url

from dashboard.core.http import Gone, HtmxHttpRequest, wants_fragment
from dashboard.library import services as library
from dashboard.library.forms import LibraryFilterForm
from dashboard.models import InputImage
from dashboard.reviews.views import safe_next

# What the picker lists at once: a search narrows it down.
PICKER_SIZE = 48
NOT_FOUND = "This image is not in the library, or not yours to see."


def library_query(filters: dict, **changes) -> str:
    """The URL query for these filters (with changes), defaults left out."""
    values = {**filters, **changes}
    pairs = {name: value for name, value in values.items() if value and name != "page"}
    for flag in ("mine", "archived"):
        if pairs.get(flag):
            pairs[flag] = "1"
    if values.get("page", 1) != 1:
        pairs["page"] = values["page"]
    return urlencode(pairs)


def browse_context(request: HtmxHttpRequest, form: LibraryFilterForm, filters: dict, page_number) -> dict:
    found = library.search(request.user, **filters)
    page = Paginator(found, library.PAGE_SIZE).get_page(page_number)
    base = reverse("library")
    query = library_query(filters, page=page.number)
    return {
        "nav_active": "library",
        "filter_form": form,
        "filters": filters,
        "page": page,
        "kinds": library.kinds(),
        "library_url": f"{base}?{query}" if query else base,
        "previous_url": f"{base}?{library_query(filters, page=page.previous_page_number())}"
        if page.has_previous()
        else "",
        "next_url": f"{base}?{library_query(filters, page=page.next_page_number())}" if page.has_next() else "",
        "filtered": any(filters.values()),
    }


@require_GET
def library_page(request: HtmxHttpRequest) -> HttpResponse:
    form = LibraryFilterForm(request.GET)
    filters = form.filters()
    context = browse_context(request, form, filters, request.GET.get("page"))
    # The card drawn open for renaming and tagging, without JavaScript (`?edit=<pk>`).
    edit = request.GET.get("edit", "")
    context["editing_pk"] = int(edit) if edit.isdecimal() and len(edit) < 12 else None
    if wants_fragment(request, "library-results"):
        return push_url(render(request, "library/library.html#results", context), context["library_url"])
    return render(request, "library/library.html", context)


@require_POST
def add(request: HtmxHttpRequest) -> HttpResponse:
    """Add several files at once: each is checked as on the generate form; the refused
    are listed with their reasons and never kept, the rest are kept whatever happened."""
    files = request.FILES.getlist("files")
    kind = request.POST.get("kind", "")
    problem = ""
    added = library.Added()
    if not files:
        problem = "Choose one or more images to add."
    else:
        try:
            added = library.add_files(request.user, files, kind)
        except library.LibraryRefused as exc:
            problem = exc.message
    if not request.htmx:
        if problem:
            messages.error(request, problem)
        if added.images:
            messages.success(request, added_message(added))
        for name, reason in added.refused:
            messages.error(request, f"{name} was not added: {reason}")
        return redirect("library")
    form = LibraryFilterForm({})
    context = {
        **browse_context(request, form, form.filters(), 1),
        "add_problem": problem,
        "added": added,
        "added_message": added_message(added) if added.images else "",
    }
    return push_url(render(request, "library/library.html#browse", context), reverse("library"))


def added_message(added: library.Added) -> str:
    count = len(added.images)
    return f"Added {count} image{'s' if count != 1 else ''} to the library."


def card_image(user, pk: int) -> InputImage:
    image = library.editable(user).select_related("owner").annotate(use_count=Count("uses")).filter(pk=pk).first()
    if image is None:
        raise Gone(NOT_FOUND)
    return image


ACTIONS = {
    "archive": ("Archived: it no longer shows in pickers. Restore brings it back.", library.archive),
    "unarchive": ("Restored: it shows in pickers again.", library.unarchive),
    "private": (
        "Now private: only you see it in the library. Results that used it still show it to the team.",
        lambda user, image: library.set_private(user, image, True),
    ),
    "share": ("Shared with the team.", lambda user, image: library.set_private(user, image, False)),
}


@require_http_methods(["GET", "POST"])
def image_action(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """POST: rename and tag (`save`), archive or restore, make private or share one image.
    GET (htmx): the image's card, open for editing with `?edit=1`."""
    image = card_image(request.user, pk)
    if request.method == "GET":
        if not request.htmx:
            return redirect(f"{reverse('library')}?edit={pk}#library-image-{pk}")
        editing = request.GET.get("edit") == "1"
        context = {"image": image, "editing": editing, "focus_edit_link": not editing, "return_to": reverse("library")}
        return render(request, "library/library.html#image-card", context)
    action = request.POST.get("action", "save")
    notice = problem = ""
    try:
        if action == "save":
            # Both checked before either is stored: a refused tag keeps the old name too.
            name = library.clean_name(request.POST.get("name", ""))
            tags = library.parse_tags(request.POST.get("tags", ""))
            library.rename(request.user, image, name)
            library.set_tags(request.user, image, " ".join(tags))
            notice = "Saved."
        elif action in ACTIONS:
            notice, act = ACTIONS[action]
            act(request.user, image)
        else:
            problem = "That is not something the library can do."
    except library.LibraryRefused as exc:
        problem = exc.message
    if not request.htmx:
        if problem:
            messages.error(request, f"{image.display_name}: {problem}")
        else:
            messages.success(request, f"{image.display_name}: {notice}")
        return redirect(safe_next(request, fallback=reverse("library")))
    image = card_image(request.user, pk)
    context = {
        "image": image,
        "editing": bool(problem) and action == "save",
        "card_notice": notice,
        "card_problem": problem,
        # A refused edit stays open with what was typed, so nothing is lost.
        "typed_name": request.POST.get("name", image.display_name) if problem and action == "save" else None,
        "typed_tags": request.POST.get("tags", "") if problem and action == "save" else None,
        "return_to": safe_next(request, fallback=reverse("library")),
        "kinds": library.kinds(),
    }
    return render(request, "library/library.html#image-card", context)


@require_GET
def pick(request: HtmxHttpRequest) -> HttpResponse:
    """The library picker of one generate slot: the dialog's content with htmx, a page
    of its own without JavaScript. A choice is a link to the generate page with the image
    in that slot (and the other slots' images kept)."""
    slot = request.GET.get("slot", "")
    kinds = library.kinds()
    if slot not in kinds:
        raise Gone("There is no such slot to choose an image for.")
    tool = request.GET.get("tool", "")
    q = " ".join(request.GET.get("q", "").split())[:100]
    all_kinds = request.GET.get("all") == "1"
    found = list(library.search(request.user, kind="" if all_kinds else slot, q=q)[: PICKER_SIZE + 1])
    # The other slots' images, carried back to the form with the choice.
    others = {
        name: value for name, value in request.GET.items() if name in kinds and name != slot and value.isdecimal()
    }
    form_query = {"tool": tool, **others} if tool else others
    home = reverse("home")
    choices = [(image, f"{home}?{urlencode({**form_query, slot: image.pk})}") for image in found[:PICKER_SIZE]]
    context = {
        "nav_active": "generate",
        "slot": slot,
        "slot_label": kinds[slot],
        "tool": tool,
        "others": others,
        "q": q,
        "all_kinds": all_kinds,
        "choices": choices,
        "more": len(found) > PICKER_SIZE,
        "back_url": f"{home}?{urlencode(form_query)}",
        "kinds": kinds,
    }
    if wants_fragment(request, "picker-results"):
        return render(request, "library/pick.html#picker-results", context)
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "library/pick.html#picker", context)
    return render(request, "library/pick.html", context)
