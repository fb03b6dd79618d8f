"""What the library's pages show: a page of images under the filters, an image's card,
and a slot's picker (the Generate form's "Choose from library")."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Count
from django.urls import reverse
from django.utils.http import urlencode

from dashboard.core.http import Gone, HtmxHttpRequest
from dashboard.core.responses import Notice
from dashboard.library import services as library
from dashboard.library.forms import LibraryAddForm, LibraryFilterForm
from dashboard.models import InputImage

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


def browse_context(request: HtmxHttpRequest, filters: dict, page_number) -> dict:
    found = library.search(request.user, **filters)
    page = Paginator(found, library.PAGE_SIZE).get_page(page_number)
    base = reverse("library")
    query = library_query(filters, page=page.number)
    return {
        "nav_active": "library",
        "filter_form": LibraryFilterForm.showing(filters),
        "add_form": LibraryAddForm(initial={"kind": filters.get("kind")}),
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


def added_notices(added: library.Added, problem: str) -> list[Notice]:
    """What adding files says on the page a plain form's redirect leads to."""
    notices = [Notice(problem, "error")] if problem else []
    if added.images:
        notices.append(Notice(added_message(added)))
    notices += [Notice(f"{name} was not added: {reason}", "error") for name, reason in added.refused]
    return notices


def added_message(added: library.Added) -> str:
    count = len(added.images)
    return f"Added {count} image{'s' if count != 1 else ''} to the library."


def card_image(user, pk: int) -> InputImage:
    image = library.editable(user).select_related("owner").annotate(use_count=Count("uses")).filter(pk=pk).first()
    if image is None:
        raise Gone(NOT_FOUND)
    return image


def picker_context(user, query) -> dict:
    """One Generate slot's picker: the library's images of its kind (or all kinds), each a
    link back to the form with the image in that slot and the other slots' images kept."""
    slot = query.get("slot", "")
    kinds = library.kinds()
    if slot not in kinds:
        raise Gone("There is no such slot to choose an image for.")
    tool = query.get("tool", "")
    q = " ".join(query.get("q", "").split())[:100]
    all_kinds = query.get("all") == "1"
    found = list(library.search(user, kind="" if all_kinds else slot, q=q)[: PICKER_SIZE + 1])
    others = {name: value for name, value in query.items() if name in kinds and name != slot and value.isdecimal()}
    form_query = {"tool": tool, **others} if tool else others
    home = reverse("home")
    choices = [(image, f"{home}?{urlencode({**form_query, slot: image.pk})}") for image in found[:PICKER_SIZE]]
    return {
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
