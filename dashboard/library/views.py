"""The input library page: browse, add, rename, tag, archive; and the picker of the
generate form's slots. The rules live in dashboard/library/services.py."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import push_url

from dashboard.core.http import HtmxHttpRequest, safe_next
from dashboard.core.responses import Notice, render_page, see_other
from dashboard.library import pages
from dashboard.library import services as library
from dashboard.library.forms import LibraryFilterForm, LibraryImageForm

PAGE = "library/library.html"


@require_GET
def library_page(request: HtmxHttpRequest) -> HttpResponse:
    context = pages.browse_context(request, LibraryFilterForm(request.GET).filters(), request.GET.get("page"))
    # The card drawn open for renaming and tagging, without JavaScript (`?edit=<pk>`).
    edit = request.GET.get("edit", "")
    context["editing_pk"] = editing = int(edit) if edit.isdecimal() and len(edit) < 12 else None
    shown = {image.pk: image for image in context["page"]}
    context["edit_form"] = LibraryImageForm(image=shown[editing]) if editing in shown else None
    fragments = {"library-results": "results"}
    return render_page(request, PAGE, context, fragments=fragments, canonical_url=context["library_url"])


@require_POST
def add(request: HtmxHttpRequest) -> HttpResponse:
    """Add several files at once: each is checked as on the generate form; the refused
    are listed with their reasons and never kept, the rest are kept whatever happened."""
    files, kind = request.FILES.getlist("images"), request.POST.get("kind", "")
    added, problem = library.add_chosen_files(request.user, files, kind)
    if not request.htmx:
        for notice in pages.added_notices(added, problem):
            notice.tell(request)
        return see_other(reverse("library"))
    context = {
        **pages.browse_context(request, LibraryFilterForm({}).filters(), 1),
        "add_problem": problem,
        "added": added,
        "added_message": pages.added_message(added) if added.images else "",
    }
    return push_url(render(request, f"{PAGE}#browse", context), reverse("library"))


@require_http_methods(["GET", "POST"])
def image_action(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """POST: rename and tag (`save`), archive or restore, make private or share one image.
    GET (htmx): the image's card, open for editing with `?edit=1`."""
    image = pages.card_image(request.user, pk)
    if request.method == "GET":
        if not request.htmx:
            return see_other(f"{reverse('library')}?edit={pk}#library-image-{pk}")
        editing = request.GET.get("edit") == "1"
        context = {
            "image": image,
            "editing": editing,
            "edit_form": LibraryImageForm(image=image),
            "focus_edit_link": not editing,
            "return_to": reverse("library"),
        }
        return render(request, f"{PAGE}#image-card", context)
    action = request.POST.get("action", "save")
    name, tags = request.POST.get("name", ""), request.POST.get("tags", "")
    try:
        said, problem = library.change(request.user, image, action, name=name, tags=tags), ""
    except library.LibraryRefused as exc:
        said, problem = "", exc.message
    return_to = safe_next(request, fallback=reverse("library"))
    if not request.htmx:
        Notice(f"{image.display_name}: {problem or said}", "error" if problem else "ok").tell(request)
        return see_other(return_to)
    image = pages.card_image(request.user, pk)
    still_editing = bool(problem) and action == "save"
    context = {
        "image": image,
        "editing": still_editing,
        "card_notice": said,
        "card_problem": problem,
        # A refused edit stays open with what was typed, so nothing is lost.
        "edit_form": LibraryImageForm(request.POST if still_editing else None, image=image),
        "return_to": return_to,
        "kinds": library.kinds(),
    }
    return render(request, f"{PAGE}#image-card", context)


@require_GET
def pick(request: HtmxHttpRequest) -> HttpResponse:
    """The library picker of one generate slot: the dialog's content with htmx, a page
    of its own without JavaScript. A choice is a link to the generate page with the image
    in that slot (and the other slots' images kept)."""
    context = pages.picker_context(request.user, request.GET)
    if request.htmx and request.htmx.target != "picker-results" and not request.htmx.history_restore_request:
        return render(request, "library/pick.html#picker", context)
    return render_page(request, "library/pick.html", context, fragments={"picker-results": "picker-results"})
