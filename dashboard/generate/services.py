"""Generate: one job sent from the form (once per form), the photos that stay attached,
the tray of recent jobs, and a result run again.

The only code that changes Generate's state: the uploads it stores, the photos it
remembers in the session, the jobs it sends (through dashboard/jobs/services.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from dashboard import genapi
from dashboard.core import display, polling, storage, tokens
from dashboard.core.catalogue import ToolChoice
from dashboard.core.responses import Notice, upstream_message
from dashboard.core.slots import Slot, kinds
from dashboard.generate.forms import GenerateForm, kept_images, unavailable_message, unavailable_slots
from dashboard.index import services as index
from dashboard.index import status as index_status
from dashboard.jobs import services as jobs
from dashboard.library import uploads
from dashboard.models import IndexedResult, InputImage, Job, TrashedResult

TRAY_SIZE = 12
# The session's record of the photos that stay attached (the model photo, the room).
REMEMBERED_PHOTOS = "generate_kept_photos"


def rate_limit_message(wait: int) -> str:
    limit = settings.JOB_RATE_LIMIT_PER_MINUTE
    return (
        f"You have sent {limit} jobs in the last minute, the most allowed. "
        f"Please wait {wait} second{'s' if wait != 1 else ''} and send it again; your images stay attached."
    )


def already_sent_message(earlier: tokens.AlreadySent, shown_in: str = "under Recent jobs") -> str:
    if earlier.job is None:
        return f"This form is being sent already, so it was not sent again. Its job will appear {shown_in}."
    return f"This form was already sent, so it was not sent again. Its job is {shown_in}."


def page_url(tool: genapi.Tool, kept: Mapping[str, InputImage]) -> str:
    """The Generate page with this tool and these photos attached."""
    query: dict[str, str | int] = {"tool": tool.name, **{name: image.pk for name, image in kept.items()}}
    return f"{reverse('home')}?{urlencode(query)}"


def edit_again_url(job: Job) -> str:
    """The Generate page with a result's tool, style and input images loaded, to change
    one of them before sending ("Edit and run again")."""
    query: dict[str, str | int] = {"tool": job.tool}
    if job.style_id:
        query["style"] = job.style_id
    query.update({entry.slot: entry.image_id for entry in job.inputs.all()})
    return f"{reverse('home')}?{urlencode(query)}"


# --- The photos that stay attached ----------------------------------------------------


def remember_photos(session, slots: tuple[Slot, ...], kept: Mapping[str, InputImage]) -> None:
    """The photos that stay attached after a send (slots marked `keep`) outlive the page:
    a reload, or another tool with the same slot, shows them again."""
    remembered = dict(session.get(REMEMBERED_PHOTOS, {}))
    remembered.update({slot.name: kept[slot.name].pk for slot in slots if slot.keep and slot.name in kept})
    session[REMEMBERED_PHOTOS] = remembered


def photos_asked_for(session, slots: tuple[Slot, ...], query: Mapping[str, str]) -> dict[str, str]:
    """The photos a fresh form starts with: those named in the address, else those
    remembered (one no longer usable is simply left out)."""
    remembered = session.get(REMEMBERED_PHOTOS, {})
    named = {slot.name: str(remembered[slot.name]) for slot in slots if slot.keep and slot.name in remembered}
    named.update({slot.name: query[slot.name] for slot in slots if query.get(slot.name)})
    return named


def kept_after_send(slots: tuple[Slot, ...], kept: Mapping[str, InputImage]) -> dict[str, InputImage]:
    return {slot.name: kept[slot.name] for slot in slots if slot.keep and slot.name in kept}


# --- A photo uploaded as soon as it is picked -----------------------------------------

# The most other slots' photos one upload names to keep (a tool has two or three slots).
MOST_KEPT_NAMED = 8


class UnknownSlot(Exception):
    """No tool takes an image by this name."""


def add_photo(designer, slot_name: str, upload: UploadedFile | None, keep: Iterable[str] = ()) -> InputImage:
    """A photo picked or dropped into a slot, stored as soon as it is chosen (generate.js
    uploads it then), so that pressing Generate sends only its reference (the slot's
    `__kept` field) and the job is created without receiving or checking any file.

    The same limits and checks by content as a file sent with the form, and the same
    fate: a draft, private to the designer, until a job uses it (bounded per designer,
    removed by `prune_drafts`). `keep` names the photos the form already holds in its
    other slots: bounding the drafts never drops those."""
    slot_label = kinds().get(slot_name)
    if slot_label is None:
        raise UnknownSlot(slot_name)
    if upload is None:
        raise uploads.UploadRefused(f"Choose a file for the {slot_label.lower()}.")
    info = uploads.checked(designer, upload)
    image = uploads.store(designer, upload, info, kind=slot_name)
    named = [int(pk) for pk in list(keep)[:MOST_KEPT_NAMED] if pk.isdecimal() and len(pk) < 12]
    uploads.bound_drafts(designer, keep=[image, *InputImage.objects.filter(owner=designer, pk__in=named)])
    return image


def photo_reference(image: InputImage, slot_name: str) -> dict[str, str | int]:
    """What the form's script puts in a slot for a photo kept there: the value of its
    `__kept` field, the thumbnail's address and the line the page writes under it."""
    return {
        "field": f"{slot_name}__kept",
        "id": image.pk,
        "thumbnail": reverse("input_image", args=[image.pk, "thumbnail"]),
        "name": image.original_name,
        "detail": f"{display.describe_size(image.size)} · {image.width} × {image.height} px",
    }


# --- The form -------------------------------------------------------------------------


def form_arguments(designer, choice: ToolChoice) -> dict[str, Any]:
    assert choice.tool is not None
    return {"designer": designer, "tool": choice.tool, "slots": choice.slots, "styles": choice.styles}


def fresh_form(designer, session, choice: ToolChoice, query: Mapping[str, str]) -> GenerateForm:
    """The form as a link opens it: the style and photos it names (else those remembered);
    what may not be used is left out, and `choice.notices` says so."""
    slots = choice.slots
    form = GenerateForm(
        initial={"style": choice.style_from_link(query.get("style", ""))},
        kept=kept_images(designer, slots, photos_asked_for(session, slots, query), in_form=False),
        **form_arguments(designer, choice),
    )
    for slot in unavailable_slots(designer, slots, query, in_form=False):
        choice.notices.append(Notice(unavailable_message(slot), "warning"))
    return form


@dataclass
class Sent:
    """What sending the form came to, and the form to draw next."""

    form: GenerateForm
    job: Job | None = None
    # The same form was sent before (a double click, a resent request).
    earlier: tokens.AlreadySent | None = None
    # The photos that stay attached, for the page drawn next.
    kept: dict[str, InputImage] = field(default_factory=dict)

    @property
    def notice(self) -> Notice | None:
        """What the designer is told at the top of the page; None when the form says it."""
        if self.earlier is not None:
            return Notice(already_sent_message(self.earlier), "warning")
        if self.job is not None:
            return Notice(f"Job sent: {self.form.chosen_tool.title}. It appears under Recent jobs.")
        return None


def send(designer, session, choice: ToolChoice, data, files) -> Sent:
    """Check the form, keep every upload that passed its checks (whatever else fails),
    and send the job once per form token."""
    arguments = form_arguments(designer, choice)
    if earlier := tokens.earlier_send(designer, data.get("submission", "")):
        # Sent before: nothing is sent again and none of its photos is kept; a fresh form
        # carries what the first request's form would have kept.
        return _already_sent(earlier, arguments)
    form = GenerateForm(data, files, **arguments)
    valid = form.is_valid()
    if not _store_uploads(designer, form):
        valid = False
    remember_photos(session, choice.slots, form.kept)
    if choice.tools_problem:
        form.add_error(None, choice.tools_problem)
    elif valid and (wait := jobs.seconds_until_allowed(designer)):
        form.add_error(None, rate_limit_message(wait))
    elif valid:
        return _send_job(designer, form, arguments)
    return Sent(form=form)


def _store_uploads(designer, form: GenerateForm) -> bool:
    """Keep the form's new uploads that passed their checks (whatever else failed), the
    form carrying each from now on; False when the image store did not take them (the
    form then says so on their slots, and its other photos stay attached)."""
    stored = form.checked_uploads()
    for place, (slot, upload, info) in enumerate(stored):
        try:
            form.keep(slot, uploads.store(designer, upload, info, kind=slot.name))
        except storage.StorageUnavailable:
            # The rest are not tried: each would wait for the store's timeouts again.
            for unsaved, _, _ in stored[place:]:
                form.add_error(unsaved.name, storage.PHOTO_NOT_SAVED)
            return False
    if stored:
        uploads.bound_drafts(designer, keep=form.kept.values())
    return True


def _send_job(designer, form: GenerateForm, arguments: dict[str, Any]) -> Sent:
    try:
        job = jobs.send_job(
            designer,
            tool=form.chosen_tool.name,
            tool_title=form.chosen_tool.title,
            inputs=form.inputs(),
            style=form.chosen_style,
            token=form.cleaned_data["submission"],
        )
    except tokens.AlreadySent as exc:
        return _already_sent(exc, arguments)
    except genapi.UpstreamRejected as exc:
        form.add_upstream_errors(exc)
        return Sent(form=form)
    except genapi.GenApiError as exc:
        form.add_error(None, upstream_message(exc))
        return Sent(form=form)
    except storage.StorageUnavailable:
        # Nothing was sent and the form's token was given back: the same form may be sent again.
        form.add_error(None, storage.JOB_NOT_SENT)
        return Sent(form=form)
    kept = kept_after_send(form.slots, form.kept)
    fresh = GenerateForm(initial={"style": form.cleaned_data.get("style", "")}, kept=kept, **arguments)
    return Sent(form=fresh, job=job, kept=kept)


def _already_sent(earlier: tokens.AlreadySent, arguments: dict[str, Any]) -> Sent:
    slots = arguments["slots"]
    used = {entry.slot: entry.image for entry in earlier.job.inputs.all()} if earlier.job else {}
    kept = kept_after_send(slots, used)
    return Sent(form=GenerateForm(kept=kept, **arguments), earlier=earlier, kept=kept)


def run_again(designer, job: Job, token: str, *, shown_in: str = "under Recent jobs") -> str | None:
    """Send a result's job again with the same tool, style and input images, once per
    token; why nothing was sent, if it was not (`shown_in`: where the page shows the job)."""
    if not tokens.is_token(token):
        return "This button is out of date, so nothing was sent. Reload the page and press it again."
    if earlier := tokens.earlier_send(designer, token):
        return already_sent_message(earlier, shown_in)
    if wait := jobs.seconds_until_allowed(designer):
        return rate_limit_message(wait)
    try:
        jobs.rerun(job, designer, token=token)
    except tokens.AlreadySent as exc:
        return already_sent_message(exc, shown_in)
    except jobs.NotPickable as exc:
        images = " and ".join(label.lower() for label in exc.labels)
        return (
            f"Nothing was sent: the {images} of this job is not available to you (private to the designer "
            "who added it, archived or deleted). Use Edit and run again to choose another."
        )
    except genapi.GenApiError as exc:
        return f"Could not run it again: {upstream_message(exc)}"
    except storage.StorageUnavailable:
        return (
            "Nothing was sent: the image store is not answering, so this job's photos could not be read. "
            "Try again in a moment."
        )
    return None


# --- The tray -------------------------------------------------------------------------


@dataclass
class Tray:
    """The designer's recent jobs as the tray shows them."""

    jobs: list[Job]
    running: int
    poll_seconds: int | None
    problem: str | None

    @property
    def fingerprint(self) -> str:
        """What the tray shows, in 16 hex digits: the same fingerprint, nothing to redraw.

        A finished job's age counts as shown ("3 min ago", one unit); a running job's
        elapsed seconds do not: the browser counts those from its start time."""
        state = [
            (
                job.history_item_id,
                job.status,
                job.error_message,
                job.like,
                "" if job.is_pending else display.age(job.created_at),
            )
            for job in self.jobs
        ]
        return hashlib.sha256(repr((state, self.poll_seconds, self.problem)).encode()).hexdigest()[:16]

    def context(self) -> dict[str, Any]:
        return {
            "tray_jobs": self.jobs,
            "tray_running": self.running,
            "tray_poll_seconds": self.poll_seconds,
            "tray_problem": self.problem,
            "tray_fingerprint": self.fingerprint,
        }


def tray(designer, problem: str | None = None) -> Tray:
    """The designer's newest jobs (not those in the trash), as the index knows them: the
    sync process follows their statuses, so drawing the tray asks the upstream nothing."""
    recent = list(
        Job.objects.filter(designer=designer)
        .exclude(history_item_id__in=TrashedResult.objects.values("history_item_id"))
        .prefetch_related("inputs__image")
        .order_by("-created_at", "-id")[:TRAY_SIZE]
    )
    ratings = dict(
        IndexedResult.objects.filter(history_item_id__in=[job.history_item_id for job in recent]).values_list(
            "history_item_id", "rating"
        )
    )
    for job in recent:
        job.like = index.like_of(ratings.get(job.history_item_id, ""))
    running = [job for job in recent if job.is_pending]
    if running and problem is None and (status := index_status.current()).stale:
        problem = status.sentence
    oldest = min((job.created_at for job in running), default=timezone.now())
    return Tray(
        jobs=recent,
        running=len(running),
        poll_seconds=polling.poll_seconds(oldest) if running else None,
        problem=problem,
    )
