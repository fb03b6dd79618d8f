"""The generate page: pick a tool, add images, send jobs, watch them in the tray."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from dashboard import genapi
from dashboard.core import storage
from dashboard.core.catalogue import ToolChoice, choose_tool
from dashboard.core.http import Gone, HtmxHttpRequest
from dashboard.core.responses import Notice, answer_change, render_page, see_other
from dashboard.generate import services
from dashboard.generate.forms import GenerateForm
from dashboard.library import uploads
from dashboard.models import Job

PAGE = "generate/generate.html"


def page_context(request: HtmxHttpRequest, choice: ToolChoice, form: GenerateForm | None, **extra) -> dict:
    return {
        "nav_active": "generate",
        "tool_groups": choice.tool_groups,
        "tool": choice.tool,
        "form": form,
        "styles": choice.styles,
        "styles_problem": choice.styles_problem,
        **services.tray(request.user).context(),
        **extra,
    }


@require_http_methods(["GET", "POST"])
def generate(request: HtmxHttpRequest) -> HttpResponse:
    posted = request.method == "POST"
    choice = choose_tool(request.POST if posted else request.GET, posted=posted)
    if problem := choice.unusable:
        return render_page(request, PAGE, page_context(request, choice, None, tools_problem=problem))
    if not posted:
        form = services.fresh_form(request.user, request.session, choice, request.GET)
        context = page_context(request, choice, form)
        workspace = {"generate-workspace": "workspace"}
        return render_page(request, PAGE, context, fragments=workspace, notices=choice.notices)
    for notice in choice.notices:
        notice.tell(request)
    sent = services.send(request.user, request.session, choice, request.POST, request.FILES)
    if not request.htmx and sent.notice is not None:
        # Without JavaScript the page is drawn again at its own address, photos attached.
        sent.notice.tell(request)
        assert choice.tool is not None
        return see_other(services.page_url(choice.tool, sent.kept))
    context = page_context(
        request,
        choice,
        sent.form,
        sent_job=sent.job,
        already_sent=sent.notice.text if sent.earlier and sent.notice else None,
    )
    return render(request, f"{PAGE}#form-and-tray" if request.htmx else PAGE, context)


@require_POST
def add_photo(request: HtmxHttpRequest, slot: str) -> HttpResponse:
    """A photo picked or dropped into a slot, uploaded at once by generate.js: kept as a
    draft and answered as a reference for the slot's `__kept` field (JSON), or refused
    with the sentence the form would say (400; 429 over the per-minute limits; 503 while
    the image store is not answering)."""
    try:
        image = services.add_photo(request.user, slot, request.FILES.get("photo"), request.POST.getlist("keep"))
    except services.UnknownSlot:
        raise Gone("No tool takes an image by this name.") from None
    except uploads.UploadRefused as refused:
        return JsonResponse({"error": refused.message}, status=429 if refused.over_limit else 400)
    except storage.StorageUnavailable:
        return JsonResponse({"error": storage.PHOTO_NOT_SAVED}, status=503)
    return JsonResponse(services.photo_reference(image, slot), status=201)


@require_GET
def tray(request: HtmxHttpRequest) -> HttpResponse:
    shown = services.tray(request.user)
    if request.GET.get("seen") == shown.fingerprint:
        # The poller already shows all this: no body. htmx swaps nothing on 204 and
        # polls on; 286 stops it (a tray that polls while nothing runs).
        return HttpResponse(status=204) if shown.running else HttpResponseStopPolling()
    return render(request, f"{PAGE}#tray-update", shown.context())


@require_POST
def rerun(request: HtmxHttpRequest, item_id: str) -> HttpResponse:
    """Send a job again with the same tool, style and input images."""
    if not genapi.is_valid_id(item_id):
        raise Gone("This job does not exist.")
    job = get_object_or_404(Job, history_item_id=item_id)
    problem = services.run_again(request.user, job, request.POST.get("submission", ""))
    return answer_change(
        request,
        Notice(problem, "error") if problem else None,
        fragment=f"{PAGE}#tray-update",
        context=lambda: services.tray(request.user, problem).context(),
        redirect_to=reverse("home"),
    )
