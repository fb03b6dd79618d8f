"""The generate page: pick a tool, add images, send jobs, watch them in the tray."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from dashboard import genapi
from dashboard.core import display, jobs
from dashboard.core.http import Gone, HtmxHttpRequest, upstream_message, wants_fragment
from dashboard.core.slots import DEFAULT_SLOTS, slots_for
from dashboard.generate.forms import GenerateForm, kept_images, unavailable_message, unavailable_slots
from dashboard.library import uploads
from dashboard.models import Job, TrashedResult
from dashboard.reviews import services as reviews

TRAY_SIZE = 12
FAST_POLL_SECONDS = 2
SLOW_POLL_SECONDS = 5
SLOW_DOWN_AFTER_SECONDS = 30


def rate_limit_message(wait: int) -> str:
    limit = settings.JOB_RATE_LIMIT_PER_MINUTE
    return (
        f"You have sent {limit} jobs in the last minute, the most allowed. "
        f"Please wait {wait} second{'s' if wait != 1 else ''} and send it again; your images stay attached."
    )


def already_sent_message(earlier: jobs.AlreadySent) -> str:
    if earlier.job is None:
        return "This form is being sent already, so it was not sent again. Its job will appear under Recent jobs."
    return "This form was already sent, so it was not sent again. Its job is under Recent jobs."


def back_to_the_page(
    request: HtmxHttpRequest, tool: genapi.Tool, kept: dict, level: int, notice: str
) -> HttpResponse | None:
    """Without htmx, a sent form redirects to the page (kept photos in its URL) and says
    what happened there; with htmx (None) the view draws a fresh form in place."""
    if request.htmx:
        return None
    messages.add_message(request, level, notice)
    query = urlencode({"tool": tool.name, **{name: image.pk for name, image in kept.items()}})
    return redirect(f"{reverse('home')}?{query}")


def edit_again_url(job: Job) -> str:
    """The generate page with a result's tool, style and input images loaded, to change
    one of them before sending ("Edit and run again")."""
    query = {"tool": job.tool}
    if job.style_id:
        query["style"] = job.style_id
    query.update({entry.slot: entry.image_id for entry in job.inputs.all()})
    return f"{reverse('home')}?{urlencode(query)}"


def style_from_url(request: HtmxHttpRequest, tool: genapi.Tool, styles: list[genapi.Style]) -> str:
    """The style a link asks for (`?style=`), if this tool offers it; else none, said."""
    wanted = request.GET.get("style", "")
    if not wanted or not styles:  # no styles could be read: the page says so already
        return ""
    if any(style.id == wanted for style in styles):
        return wanted
    messages.warning(request, f"The style of that link is not offered for {tool.title} now: choose one below.")
    return ""


def group_tools(tools: list[genapi.Tool]) -> list[tuple[str, list[genapi.Tool]]]:
    groups: dict[str, list[genapi.Tool]] = {}
    for tool in tools:
        groups.setdefault(tool.group, []).append(tool)
    return list(groups.items())


def tool_from_form(data) -> genapi.Tool | None:
    name, group = data.get("tool", ""), data.get("tool_group", "")
    if not genapi.is_valid_id(name):
        return None
    return genapi.Tool(
        name=name, title=name.replace("_", " ").title(), group=group if group in DEFAULT_SLOTS else "default"
    )


def pick_tool(tools: list[genapi.Tool], name: str | None) -> genapi.Tool | None:
    by_name = {tool.name: tool for tool in tools}
    if name:
        return by_name.get(name)
    return by_name.get("fashion_swap") or (tools[0] if tools else None)


def tray_fingerprint(shown: list[Job], poll_seconds: int | None, problem: str | None) -> str:
    """What the tray shows, in 16 hex digits: the same fingerprint, nothing to redraw.

    A finished job's age counts as shown ("3 min ago", one unit); a running job's
    elapsed seconds do not: the browser counts those from its start time (app.js).
    """
    state = [
        (
            job.history_item_id,
            job.status,
            job.error_message,
            job.like,
            "" if job.is_pending else display.age(job.created_at),
        )
        for job in shown
    ]
    return hashlib.sha256(repr((state, poll_seconds, problem)).encode()).hexdigest()[:16]


def tray_context(request: HtmxHttpRequest, problem: str | None = None) -> dict:
    recent = list(
        Job.objects.filter(designer=request.user)
        .exclude(history_item_id__in=TrashedResult.objects.values("history_item_id"))  # deleted, for now
        .prefetch_related("inputs__image")
        .order_by("-created_at", "-id")[:TRAY_SIZE]
    )
    pending = [job for job in recent if job.is_pending]
    tray_problem = problem
    items: dict[str, genapi.HistoryItem | None] = {}
    if pending:
        try:
            items = jobs.refresh([job.history_item_id for job in pending])
        except genapi.GenApiError as exc:
            tray_problem = exc.message
        else:
            recent = [job for job in recent if items.get(job.history_item_id, True) is not None]
            for job in recent:
                item = items.get(job.history_item_id)
                if item is not None and not item.is_pending:
                    job.status, job.error_message = item.status, item.error_message or ""
    now = timezone.now()
    running = [job for job in recent if job.is_pending]
    oldest = min((job.created_at for job in running), default=now)
    poll_seconds = FAST_POLL_SECONDS if (now - oldest).total_seconds() < SLOW_DOWN_AFTER_SECONDS else SLOW_POLL_SECONDS
    found_reviews = reviews.reviews_of(job.history_item_id for job in recent)
    for job in recent:
        # Like state only from what is already known: the tray never reads items just for it.
        known = items.get(job.history_item_id) or genapi.known_item(job.history_item_id)
        job.like = reviews.like_shown(known.like, found_reviews.get(job.history_item_id)) if known else None
    return {
        "tray_jobs": recent,
        "tray_running": len(running),
        "tray_poll_seconds": poll_seconds if running else None,
        "tray_problem": tray_problem,
        "tray_fingerprint": tray_fingerprint(recent, poll_seconds if running else None, tray_problem),
    }


@dataclass
class Catalogue:
    """The tools offered, the one a request asks for, its styles, and why any of them
    could not be read (each None when it could)."""

    tools: list[genapi.Tool]
    tools_problem: str | None
    tool: genapi.Tool | None
    styles: list[genapi.Style]
    styles_problem: str | None

    @property
    def unusable(self) -> str | None:
        """Why no form can be drawn at all, or None."""
        if self.tool is not None:
            return None
        return self.tools_problem or "The generation service offers no tools right now."


def read_catalogue(request: HtmxHttpRequest) -> Catalogue:
    """The catalogue as the Generate and the run forms need it: the tool named by the
    request (`?tool=` or the posted form), the default tool with a message when that one
    is not offered, and the posted form's own tool when the catalogue cannot be read
    (so the designer's images are kept rather than dropped with the page)."""
    try:
        tools, tools_problem = genapi.tools(), None
    except genapi.GenApiError as exc:
        tools, tools_problem = [], exc.message
    source = request.POST if request.method == "POST" else request.GET
    tool = pick_tool(tools, source.get("tool"))
    if tool is None and tools_problem and request.method == "POST":
        tool = tool_from_form(request.POST)
    if tool is None and tools and not tools_problem:
        messages.error(request, "That tool is not offered. Choose one of the tools below.")
        tool = pick_tool(tools, None)
    styles, styles_problem = [], None
    if tool is not None:
        try:
            styles = genapi.styles(tool.name)
        except genapi.GenApiError as exc:
            styles_problem = exc.message
    return Catalogue(tools, tools_problem, tool, styles, styles_problem)


# The session's record of the photos that stay attached (the model photo, the room).
REMEMBERED_PHOTOS = "generate_kept_photos"


def remember_photos(request: HtmxHttpRequest, slots, kept: dict) -> None:
    """The photos that stay attached after a send (slots marked `keep`) outlive the page:
    a reload, or another tool with the same slot, shows them again."""
    remembered = dict(request.session.get(REMEMBERED_PHOTOS, {}))
    remembered.update({slot.name: kept[slot.name].pk for slot in slots if slot.keep and slot.name in kept})
    request.session[REMEMBERED_PHOTOS] = remembered


def photos_asked_for(request: HtmxHttpRequest, slots) -> dict[str, str]:
    """The photos a fresh form starts with: those named in the address, else those
    remembered (one no longer usable is simply left out)."""
    remembered = request.session.get(REMEMBERED_PHOTOS, {})
    named = {slot.name: str(remembered[slot.name]) for slot in slots if slot.keep and slot.name in remembered}
    named.update({slot.name: request.GET[slot.name] for slot in slots if request.GET.get(slot.name)})
    return named


@require_http_methods(["GET", "POST"])
def generate(request: HtmxHttpRequest) -> HttpResponse:
    catalogue = read_catalogue(request)
    if problem := catalogue.unusable:
        context = {"tools_problem": problem, "nav_active": "generate", **tray_context(request)}
        return render(request, "generate/generate.html", context)
    tools, tools_problem, tool = catalogue.tools, catalogue.tools_problem, catalogue.tool
    styles, styles_problem = catalogue.styles, catalogue.styles_problem
    slots = slots_for(tool.name, tool.group)
    form_kwargs = {"designer": request.user, "tool": tool, "slots": slots, "styles": styles}

    sent_job = None
    earlier: jobs.AlreadySent | None = None
    if request.method == "POST":
        # A form sent before (a double click, a resent request) sends nothing again and
        # keeps none of its photos: the first request made the job.
        token = request.POST.get("submission", "")
        earlier = jobs.already_sent(request.user, token) if jobs.is_token(token) else None
    if earlier is None and request.method == "POST":
        form = GenerateForm(request.POST, request.FILES, **form_kwargs)
        valid = form.is_valid()
        stored = form.checked_uploads()
        for slot, upload, info in stored:
            form.keep(slot, jobs.store_input(request.user, upload, info, kind=slot.name))
        if stored:
            uploads.bound_drafts(request.user, keep=form.kept.values())
        if tools_problem:
            form.add_error(None, tools_problem)
        elif valid and (wait := jobs.seconds_until_allowed(request.user)):
            form.add_error(None, rate_limit_message(wait))
        elif valid:
            try:
                sent_job = jobs.send_job(
                    request.user,
                    tool=tool.name,
                    tool_title=tool.title,
                    inputs=form.inputs(),
                    style=form.chosen_style,
                    token=form.cleaned_data["submission"],
                )
            except jobs.AlreadySent as exc:
                earlier = exc
            except genapi.UpstreamRejected as exc:
                form.add_upstream_errors(exc)
            except genapi.GenApiError as exc:
                form.add_error(None, upstream_message(exc))
        remember_photos(request, slots, form.kept)
        if sent_job is not None:
            kept = {slot.name: form.kept[slot.name] for slot in slots if slot.keep}
            notice = f"Job sent: {tool.title}. It appears under Recent jobs."
            if response := back_to_the_page(request, tool, kept, messages.SUCCESS, notice):
                return response
            form = GenerateForm(initial={"style": form.cleaned_data.get("style", "")}, kept=kept, **form_kwargs)
    elif earlier is None:
        form = GenerateForm(
            initial={"style": style_from_url(request, tool, styles)},
            kept=kept_images(request.user, slots, photos_asked_for(request, slots), in_form=False),
            **form_kwargs,
        )
        for slot in unavailable_slots(request.user, slots, request.GET, in_form=False):
            messages.warning(request, unavailable_message(slot))
    if earlier is not None:
        # A fresh form, carrying what the first request's form would have kept.
        kept_slots = {slot.name for slot in slots if slot.keep}
        kept = (
            {entry.slot: entry.image for entry in earlier.job.inputs.all() if entry.slot in kept_slots}
            if earlier.job
            else {}
        )
        if response := back_to_the_page(request, tool, kept, messages.WARNING, already_sent_message(earlier)):
            return response
        form = GenerateForm(kept=kept, **form_kwargs)

    context = {
        "nav_active": "generate",
        "tool_groups": group_tools(tools),
        "tool": tool,
        "form": form,
        "styles": styles,
        "styles_problem": styles_problem,
        "sent_job": sent_job,
        "already_sent": already_sent_message(earlier) if earlier else None,
        **tray_context(request),
    }
    if request.htmx and request.method == "POST":
        return render(request, "generate/generate.html#form-and-tray", context)
    if wants_fragment(request, "generate-workspace"):
        return render(request, "generate/generate.html#workspace", context)
    return render(request, "generate/generate.html", context)


@require_GET
def tray(request: HtmxHttpRequest) -> HttpResponse:
    context = tray_context(request)
    if request.GET.get("seen") == context["tray_fingerprint"]:
        # The poller already shows all this: no body. htmx swaps nothing on 204 and
        # polls on; 286 stops it (a tray that polls while nothing runs).
        return HttpResponse(status=204) if context["tray_running"] else HttpResponseStopPolling()
    return render(request, "generate/generate.html#tray-update", context)


@require_POST
def rerun(request: HtmxHttpRequest, item_id: str) -> HttpResponse:
    """Send a job again with the same tool, style and input images."""
    if not genapi.is_valid_id(item_id):
        raise Gone("This job does not exist.")
    job = get_object_or_404(Job, history_item_id=item_id)
    problem = None
    token = request.POST.get("submission", "")
    if not jobs.is_token(token):
        problem = "This button is out of date, so nothing was sent. Reload the page and press it again."
    elif earlier := jobs.already_sent(request.user, token):
        problem = already_sent_message(earlier)
    elif wait := jobs.seconds_until_allowed(request.user):
        problem = rate_limit_message(wait)
    else:
        try:
            jobs.rerun(job, request.user, token=token)
        except jobs.AlreadySent as exc:
            problem = already_sent_message(exc)
        except genapi.GenApiError as exc:
            problem = f"Could not run it again: {upstream_message(exc)}"
    if request.htmx:
        return render(request, "generate/generate.html#tray-update", tray_context(request, problem))
    if problem:
        messages.error(request, problem)
    return redirect("home")
