"""Matrix runs: the form that starts one, the run page that follows it live, the list."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from dashboard.core import audit, tokens
from dashboard.core.catalogue import ToolChoice, choose_tool, pick_tool, tool_from_form
from dashboard.core.http import Gone, HtmxHttpRequest
from dashboard.core.responses import Notice, render_page, see_other
from dashboard.insights import heatmap
from dashboard.models import Run
from dashboard.runs import live
from dashboard.runs import services as runs
from dashboard.runs.forms import RenameRunForm, RunForm, size_limits_text

PAGE = "runs/runs.html"
RUNS_PER_PAGE = 20


def form_context(choice: ToolChoice, form: RunForm | None, **extra) -> dict:
    return {
        "nav_active": "runs",
        "page_kind": "new",
        "tool_groups": choice.tool_groups,
        "tools_problem": choice.tools_problem,
        "tool": choice.tool,
        "styles": choice.styles,
        "styles_problem": choice.styles_problem,
        "form": form,
        "choices": form.choices() if form is not None else [],
        "max_jobs": settings.RUN_MAX_JOBS,
        "request_max_bytes": settings.REQUEST_MAX_BYTES,
        "size_limits": size_limits_text(),
        **extra,
    }


def form_arguments(request: HtmxHttpRequest, choice: ToolChoice) -> dict:
    return {"designer": request.user, "tool": choice.tool, "slots": choice.slots, "styles": choice.styles}


def replayed(earlier: tokens.AlreadySent) -> Notice:
    """What a second send of a run form is told: nothing was stored or started again."""
    if earlier.run is not None:
        return Notice("This form was sent already, so no second run was started. Here is the run it started.", "info")
    return Notice(
        "This form is being sent already, so no second run was started. It appears below in a moment.", "info"
    )


def go_to_earlier(request: HtmxHttpRequest, earlier: tokens.AlreadySent) -> HttpResponse:
    replayed(earlier).tell(request)
    return see_other(reverse("run", args=[earlier.run.pk]) if earlier.run else reverse("runs"))


@require_http_methods(["GET", "POST"])
def new_run(request: HtmxHttpRequest) -> HttpResponse:
    posted = request.method == "POST"
    choice = choose_tool(request.POST if posted else request.GET, posted=posted)
    if problem := choice.unusable:
        return render(request, PAGE, form_context(choice, None, tools_problem=problem))
    if not posted:
        initial = RunForm.initial_from(request.GET, choice.slots) if "tool" in request.GET else None
        form = RunForm(initial=initial, **form_arguments(request, choice))
        return render_page(request, PAGE, form_context(choice, form), notices=choice.notices)
    if earlier := tokens.earlier_send(request.user, request.POST.get("submission", "")):
        return go_to_earlier(request, earlier)
    form = RunForm(request.POST, request.FILES, **form_arguments(request, choice))
    stored = form.store_new_files()
    if request.POST.get("action") == "keep":
        # Files added in several goes (one request carries at most REQUEST_MAX_BYTES).
        added = f"{stored} new file{'s' if stored != 1 else ''} added and ticked. Add more, or start the run."
        problem = form.refused_message(starting=False) if form.refused else ""
        context = form_context(choice, form.carried_on(), kept_notice=added if stored else "", kept_problem=problem)
        return render(request, PAGE, context)
    try:
        run = runs.start_from_form(request.user, form, choice)
    except tokens.AlreadySent as earlier:
        return go_to_earlier(request, earlier)
    if run is None:
        return render(request, PAGE, form_context(choice, form), status=400)
    Notice(f"Run started: {run.cells.count()} jobs. The worker sends them; follow them here.").tell(request)
    return see_other(reverse("run", args=[run.pk]))


@require_GET
def picker(request: HtmxHttpRequest) -> HttpResponse:
    """One slot's library picker, searched (htmx): the ticked images always stay in it."""
    choice = choose_tool(request.GET, posted=False, with_styles=False)
    choice.tool = pick_tool(choice.tools, request.GET.get("tool")) or tool_from_form(request.GET) or choice.tool
    if choice.tool is None:
        raise Gone("The generation service offers no tools right now.")
    form = RunForm(initial=RunForm.initial_from(request.GET, choice.slots), **form_arguments(request, choice))
    slots = form.choices()
    shown = next((slot for slot in slots if slot.slot.name == request.GET.get("slot")), slots[0])
    return render(request, f"{PAGE}#picker", {"choice": shown, "tool": choice.tool})


def get_run(run_id: int) -> Run:
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        raise Gone("This run does not exist.")
    return run


def render_run_page(request: HtmxHttpRequest, run: Run, rename_form: RenameRunForm | None = None, status=200):
    context = {
        "nav_active": "runs",
        "page_kind": "run",
        "activity": audit.of_run(run),
        "rename_form": rename_form or RenameRunForm(initial={"name": run.name}),
        "heatmap": heatmap.for_run(run, request.user),
    }
    return render(request, PAGE, {**context, **live.live_context(run, request.user)}, status=status)


@require_GET
def run_page(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    return render_run_page(request, get_run(run_id))


@require_GET
def run_poll(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    context = live.live_context(get_run(run_id), request.user)
    finished = context["progress"].finished
    if request.GET.get("seen") == context["fingerprint"]:
        # The page already shows all this: no body. 204 keeps htmx polling; 286 stops it.
        return HttpResponseStopPolling() if finished else HttpResponse(status=204)
    response = render(request, f"{PAGE}#run-update", context)
    return HttpResponseStopPolling(response.content) if finished else response


def cancel_notice(count: int) -> Notice:
    if count:
        return Notice(f"Run cancelled: {count} job{'s' if count != 1 else ''} will not be sent.")
    return Notice("Nothing was waiting to be sent: the jobs already sent finish on their own.", "info")


def retry_notice(count: int) -> Notice:
    if count:
        return Notice(f"{count} job{'s' if count != 1 else ''} will be sent again.")
    return Notice("Nothing to try again: no job of this run has failed.", "info")


@require_POST
def run_cancel(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = get_run(run_id)
    cancel_notice(runs.cancel(run, request.user)).tell(request)
    return see_other(reverse("run", args=[run.pk]))


@require_POST
def run_retry(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = get_run(run_id)
    cell = request.POST.get("cell", "")
    cell_ids = [int(cell)] if cell.isdecimal() and len(cell) < 12 else None
    count = runs.retry(run, request.user, cell_ids)
    retry_notice(count).tell(request)
    target = reverse("run", args=[run.pk])
    return see_other(f"{target}#cell-{cell_ids[0]}" if cell_ids and count else target)


@require_POST
def run_rename(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = get_run(run_id)
    form = RenameRunForm(request.POST)
    if not form.is_valid():  # shown again as typed, with what is wrong
        return render_run_page(request, run, rename_form=form, status=400)
    if runs.rename(run, request.user, form.cleaned_data["name"]):
        Notice(f"Renamed: {run.shown_name}." if run.name else "The run's name was taken away.").tell(request)
    return see_other(reverse("run", args=[run.pk]))


@require_GET
def run_list(request: HtmxHttpRequest) -> HttpResponse:
    paginator = Paginator(Run.objects.order_by("-created_at", "-id"), RUNS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "nav_active": "runs",
        "page_kind": "list",
        "listed": [(run, runs.progress(run)) for run in page.object_list],
        "page_obj": page,
        "page_links": list(paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))
        if paginator.num_pages > 1
        else [],
    }
    return render(request, PAGE, context)
