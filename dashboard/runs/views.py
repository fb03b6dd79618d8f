"""Matrix runs: the form that starts one, the run page that follows it live, the list."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from dashboard import genapi
from dashboard.core.http import Gone, HtmxHttpRequest, upstream_message
from dashboard.core.jobs import is_token
from dashboard.core.slots import slots_for
from dashboard.gallery.history import url_for_item
from dashboard.generate.views import (
    FAST_POLL_SECONDS,
    SLOW_DOWN_AFTER_SECONDS,
    SLOW_POLL_SECONDS,
    group_tools,
    pick_tool,
    read_catalogue,
    tool_from_form,
)
from dashboard.models import Run, RunCell, Submission
from dashboard.reviews import services as reviews
from dashboard.runs import services as runs
from dashboard.runs.forms import RunForm, size_limits_text, too_many_message

RUNS_PER_PAGE = 20


def see_other(url: str) -> HttpResponse:
    """A 303: after a POST the browser GETs the page, and reloading it sends nothing again."""
    response = redirect(url)
    response.status_code = 303
    return response


# --- The form -------------------------------------------------------------------------


def form_context(request: HtmxHttpRequest, tools, tools_problem, tool, form: RunForm | None, **extra) -> dict:
    if form is not None:
        form.fill_pickers()
    return {
        "nav_active": "runs",
        "page_kind": "new",
        "tool_groups": group_tools(tools),
        "tools_problem": tools_problem,
        "tool": tool,
        "form": form,
        "max_jobs": settings.RUN_MAX_JOBS,
        "request_max_bytes": settings.REQUEST_MAX_BYTES,
        "size_limits": size_limits_text(),
        **extra,
    }


def render_refused(request: HtmxHttpRequest, context: dict) -> HttpResponse:
    """The form again, saying why no run was started, with everything chosen still chosen."""
    return render(request, "runs/runs.html", context, status=400)


def replayed(request: HtmxHttpRequest, token: str) -> HttpResponse | None:
    """A form sent before (a double click, a resent request): nothing is stored or started
    again; the designer goes to the run the first request started."""
    earlier = Submission.objects.filter(designer=request.user, token=token).select_related("run").first()
    if earlier is None:
        return None
    if earlier.run is not None:
        messages.info(request, "This form was sent already, so no second run was started. Here is the run it started.")
        return see_other(reverse("run", args=[earlier.run.pk]))
    messages.info(
        request, "This form is being sent already, so no second run was started. It appears below in a moment."
    )
    return see_other(reverse("runs"))


@require_http_methods(["GET", "POST"])
def new_run(request: HtmxHttpRequest) -> HttpResponse:
    catalogue = read_catalogue(request)
    if problem := catalogue.unusable:
        return render(request, "runs/runs.html", form_context(request, [], problem, None, None))
    tools, tools_problem, tool, styles = catalogue.tools, catalogue.tools_problem, catalogue.tool, catalogue.styles
    slots = slots_for(tool.name, tool.group)
    extra = {"styles": styles, "styles_problem": catalogue.styles_problem}

    if request.method == "GET":
        form = RunForm(request.user, tool, slots, styles, data=request.GET if "tool" in request.GET else None)
        return render(request, "runs/runs.html", form_context(request, tools, tools_problem, tool, form, **extra))

    token = request.POST.get("submission", "")
    if is_token(token) and (response := replayed(request, token)):
        return response
    form = RunForm(request.user, tool, slots, styles, data=request.POST, files=request.FILES)
    stored = form.store_new_files()
    if request.POST.get("action") == "keep":
        # Files added in several goes (one request carries at most REQUEST_MAX_BYTES).
        if stored:
            added = f"{stored} new file{'s' if stored != 1 else ''}"
            extra["kept_notice"] = f"{added} added and ticked. Add more, or start the run."
        if form.refused:
            form.errors.append(form.refused_message(starting=False))
        return render(request, "runs/runs.html", form_context(request, tools, tools_problem, tool, form, **extra))
    ready = form.check(max_jobs=settings.RUN_MAX_JOBS)
    if tools_problem:
        form.errors.append(f"{tools_problem} No run was started; your images are kept.")
        ready = False
    if not ready:
        return render_refused(request, form_context(request, tools, tools_problem, tool, form, **extra))
    try:
        with transaction.atomic():
            claim = Submission.objects.create(designer=request.user, token=form.submission_token)
    except IntegrityError:
        return replayed(request, form.submission_token) or see_other(reverse("runs"))
    try:
        run = runs.start_run(
            request.user,
            tool=tool,
            style=form.chosen_style,
            rows=(form.rows.slot, form.rows.chosen),
            columns=(form.columns.slot, form.columns.chosen) if form.columns else None,
        )
    except runs.RunTooLarge as exc:
        claim.delete()
        form.errors.append(exc.message or too_many_message(form.job_count, settings.RUN_MAX_JOBS))
        return render_refused(request, form_context(request, tools, tools_problem, tool, form, **extra))
    except BaseException:
        claim.delete()
        raise
    Submission.objects.filter(pk=claim.pk).update(run=run)
    messages.success(request, f"Run started: {run.cells.count()} jobs. The worker sends them; follow them here.")
    return see_other(reverse("run", args=[run.pk]))


@require_GET
def picker(request: HtmxHttpRequest) -> HttpResponse:
    """One slot's library picker, searched (htmx): the ticked images always stay in it."""
    try:
        tools = genapi.tools()
    except genapi.GenApiError:
        tools = []
    tool = pick_tool(tools, request.GET.get("tool")) or tool_from_form(request.GET) or pick_tool(tools, None)
    if tool is None:
        raise Gone("The generation service offers no tools right now.")
    slots = slots_for(tool.name, tool.group)
    form = RunForm(request.user, tool, slots, [], data=request.GET)
    form.fill_pickers()
    wanted = request.GET.get("slot")
    choice = next((choice for choice in form.choices if choice.slot.name == wanted), form.choices[0])
    return render(request, "runs/runs.html#picker", {"choice": choice, "tool": tool})


# --- The run page ---------------------------------------------------------------------


@dataclass
class CellView:
    """One cell of the matrix as drawn."""

    cell: RunCell
    status: str
    reason: str = ""
    item_id: str = ""
    preview_url: str = ""
    detail_url: str = ""
    like: bool | None = None
    running_since: object = None
    label: str = ""  # which inputs it combines, for its alt text and buttons


def get_run(run_id: int) -> Run:
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        raise Gone("This run does not exist.")
    return run


def eta_text(seconds: int | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return "less than a minute left"
    minutes = round(seconds / 60)
    return f"about {minutes} min left" if minutes < 60 else f"about {minutes // 60} h {minutes % 60} min left"


def poll_seconds(run: Run) -> int:
    """Fast while the run is young or was just tried again, slower once it has gone on a while."""
    latest = run.jobs.aggregate(latest=Max("created_at"))["latest"]
    last_activity = max(filter(None, [run.created_at, latest]))
    young = (timezone.now() - last_activity).total_seconds() < SLOW_DOWN_AFTER_SECONDS
    return FAST_POLL_SECONDS if young else SLOW_POLL_SECONDS


def matrix_rows(run: Run, edges: list) -> list[list[CellView]]:
    grid = runs.cells_grid(run)
    names = {image.pk: image.display_name for image in edges}
    item_ids = [cell.job.history_item_id for row in grid for cell in row if cell.job]
    found_reviews = reviews.reviews_of(item_ids)
    query = f"?run={run.pk}"
    drawn = []
    for row in grid:
        views = []
        for cell in row:
            view = CellView(cell=cell, status=runs.cell_status(cell))
            view.label = names.get(cell.row_image_id, "")
            if cell.column_image_id:
                view.label += f" on {names.get(cell.column_image_id, '')}"
            job = cell.job
            if job is not None:
                view.item_id = job.history_item_id
                view.detail_url = url_for_item("history_item", job.history_item_id) + query
                if view.status == "done":
                    view.preview_url = url_for_item("result_image", job.history_item_id, "preview")
                    # Only what is known already: the matrix never reads items just for their likes.
                    if known := genapi.known_item(job.history_item_id):
                        view.like = reviews.like_shown(known.like, found_reviews.get(job.history_item_id))
                if view.status == "running":
                    view.running_since = job.created_at
            if view.status == "failed":
                view.reason = runs.cell_problem(cell) or "The job failed."
            views.append(view)
        drawn.append(views)
    return drawn


def fingerprint(rows: list[list[CellView]], progress: runs.Progress, problem: str | None, seconds: int | None) -> str:
    """What the live part of the run page shows, in 16 hex digits: the same, nothing to redraw.

    Running cells' elapsed seconds are not in it: the browser counts those (app.js)."""
    state = [
        (view.cell.pk, view.status, view.cell.attempt, view.item_id, view.reason, view.like)
        for row in rows
        for view in row
    ]
    # The time left as shown ("about 3 min"), not in seconds, which change at every poll.
    shown = (state, replace(progress, eta_seconds=None), eta_text(progress.eta_seconds), problem, seconds)
    return hashlib.sha256(repr(shown).encode()).hexdigest()[:16]


def live_context(run: Run) -> dict:
    """The progress and the matrix, brought up to date at O(1) upstream calls."""
    problem = None
    try:
        progress = runs.refresh(run)
    except genapi.GenApiError as exc:
        problem = (
            f"The generation service cannot be read just now ({upstream_message(exc)}). "
            "This shows the last known state and keeps checking."
        )
        progress = runs.progress(run)
    if progress.queued and runs.worker_missing(run):
        problem = runs.WORKER_MISSING_MESSAGE if problem is None else f"{problem} {runs.WORKER_MISSING_MESSAGE}"
    row_images, column_images = runs.row_images(run), runs.column_images(run)
    rows = matrix_rows(run, [*row_images, *column_images])
    seconds = None if progress.finished else poll_seconds(run)
    return {
        "run": run,
        "progress": progress,
        "eta": eta_text(progress.eta_seconds),
        "matrix": list(zip(row_images, rows, strict=False)),
        "column_images": column_images,
        "live_problem": problem,
        "poll_seconds": seconds,
        "fingerprint": fingerprint(rows, progress, problem, seconds),
    }


@require_GET
def run_page(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = get_run(run_id)
    context = {"nav_active": "runs", "page_kind": "run", **live_context(run)}
    return render(request, "runs/runs.html", context)


@require_GET
def run_poll(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = get_run(run_id)
    context = live_context(run)
    if request.GET.get("seen") == context["fingerprint"]:
        # The page already shows all this: no body. 204 keeps htmx polling; 286 stops it.
        return HttpResponseStopPolling() if context["progress"].finished else HttpResponse(status=204)
    response = render(request, "runs/runs.html#run-update", context)
    if context["progress"].finished:
        return HttpResponseStopPolling(response.content)
    return response


@require_POST
def run_cancel(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = get_run(run_id)
    count = runs.cancel(run, request.user)
    if count:
        messages.success(request, f"Run cancelled: {count} job{'s' if count != 1 else ''} will not be sent.")
    else:
        messages.info(request, "Nothing was waiting to be sent: the jobs already sent finish on their own.")
    return see_other(reverse("run", args=[run.pk]))


@require_POST
def run_retry(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    run = get_run(run_id)
    cell = request.POST.get("cell", "")
    cell_ids = [int(cell)] if cell.isdecimal() and len(cell) < 12 else None
    count = runs.retry(run, request.user, cell_ids)
    if count:
        messages.success(request, f"{count} job{'s' if count != 1 else ''} will be sent again.")
    else:
        messages.info(request, "Nothing to try again: no job of this run has failed.")
    target = reverse("run", args=[run.pk])
    return see_other(f"{target}#cell-{cell_ids[0]}" if cell_ids and count else target)


# --- The list -------------------------------------------------------------------------


@require_GET
def run_list(request: HtmxHttpRequest) -> HttpResponse:
    paginator = Paginator(Run.objects.order_by("-created_at", "-id"), RUNS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    listed = [(run, runs.progress(run)) for run in page.object_list]
    return render(
        request,
        "runs/runs.html",
        {
            "nav_active": "runs",
            "page_kind": "list",
            "listed": listed,
            "page_obj": page,
            "page_links": list(paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))
            if paginator.num_pages > 1
            else [],
        },
    )
