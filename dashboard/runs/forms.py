"""The matrix run form: one tool, one style, and several images for each of its slots.

Each slot takes images ticked in the team library and new files (several at once). New
files pass the same checks as Generate's uploads; each one that passes is stored in the
library at once, whatever happens to the rest of the form, so a form shown again never
asks for a file twice: it comes back ticked. Refused files are named with their reasons
and never stored. The run itself is started by the view (dashboard/runs/services.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from dashboard import genapi
from dashboard.core import display, jobs
from dashboard.core.slots import Slot
from dashboard.library import services as library
from dashboard.models import InputImage

# The picker shows the images ticked, then this many of the newest that match the search.
PICKER_SIZE = 48
SEARCH_MAX_LENGTH = 100


def library_field(slot: Slot) -> str:
    return f"{slot.name}__library"


def search_field(slot: Slot) -> str:
    return f"{slot.name}__q"


@dataclass(frozen=True)
class RefusedFile:
    name: str
    reason: str


@dataclass
class SlotChoice:
    """One slot of the form as drawn: what is chosen, what the picker offers, what went wrong."""

    slot: Slot
    chosen: list[InputImage] = field(default_factory=list)
    query: str = ""
    refused: list[RefusedFile] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    offered: list[InputImage] = field(default_factory=list)

    @property
    def library_name(self) -> str:
        return library_field(self.slot)

    @property
    def search_name(self) -> str:
        return search_field(self.slot)

    @property
    def chosen_ids(self) -> set[int]:
        return {image.pk for image in self.chosen}


def picked_images(designer, ids: list[str]) -> list[InputImage]:
    """The library images named by these ids, in the order given; images the designer
    may not pick (another's private image or draft, archived ones) and malformed ids are
    left out, as in Generate's slots (library.pickable)."""
    wanted = list(dict.fromkeys(int(value) for value in ids if value.isdecimal() and len(value) < 12))
    found = library.pickable(designer).filter(pk__in=wanted).in_bulk()
    return [found[pk] for pk in wanted if pk in found]


def offered_images(designer, choice: SlotChoice) -> list[InputImage]:
    """What the picker shows: the chosen images first (so a search never hides a tick),
    then the newest of the slot's kind matching the search, as the library page finds them."""
    matching = library.search(designer, kind=choice.slot.name, q=choice.query.strip())
    return [*choice.chosen, *matching.exclude(pk__in=choice.chosen_ids)[:PICKER_SIZE]]


def size_limits_text() -> str:
    """What one send of the form may carry, as the page says it."""
    return (
        f"You can add up to {display.describe_size(settings.REQUEST_MAX_BYTES)} of new files in one go "
        f"(each up to {display.describe_size(settings.UPLOAD_MAX_BYTES)}). For more, press "
        f"“Add files and keep choosing”, then add the rest."
    )


class RunForm:
    """The run form, bound to a GET (ticks and searches in the URL) or a POST (with files)."""

    def __init__(
        self,
        designer,
        tool: genapi.Tool,
        slots: tuple[Slot, ...],
        styles: list[genapi.Style],
        data=None,
        files=None,
    ):
        self.designer = designer
        self.tool = tool
        self.slots = slots
        self.styles = {style.id: style for style in styles}
        self.data = data if data is not None else {}
        self.files = files
        self.errors: list[str] = []
        self.style_error = ""
        self.choices = [
            SlotChoice(
                slot=slot,
                chosen=picked_images(designer, self.data.getlist(library_field(slot)) if data else []),
                query=(self.data.get(search_field(slot)) or "")[:SEARCH_MAX_LENGTH] if data else "",
            )
            for slot in slots
        ]
        self.style_id = (self.data.get("style") or "") if data else ""
        token = (self.data.get("submission") or "") if data else ""
        self.token_was_valid = jobs.is_token(token)
        self.submission_token = token if self.token_was_valid else jobs.new_token()

    # --- The parts of a run -------------------------------------------------------------

    @property
    def rows(self) -> SlotChoice:
        return self.choices[0]

    @property
    def columns(self) -> SlotChoice | None:
        return self.choices[1] if len(self.choices) > 1 else None

    @property
    def job_count(self) -> int:
        count = 1
        for choice in self.choices:
            count *= len(choice.chosen)
        return count

    @property
    def chosen_style(self) -> genapi.Style | None:
        return self.styles.get(self.style_id)

    @property
    def refused(self) -> list[RefusedFile]:
        return [refused for choice in self.choices for refused in choice.refused]

    # --- Checking a POST ----------------------------------------------------------------

    def store_new_files(self) -> int:
        """Check every new file as the library does (library.add_files); store those that
        pass (ticked from now on) and list the rest with their reasons. How many were stored."""
        stored = 0
        for choice in self.choices:
            if not (new := self.files.getlist(choice.slot.name)):
                continue
            added = library.add_files(self.designer, new, choice.slot.name)
            choice.chosen.extend(added.images)
            choice.refused.extend(RefusedFile(name=name, reason=reason) for name, reason in added.refused)
            stored += len(added.images)
        return stored

    def check(self, *, max_jobs: int) -> bool:
        """Whether a run can start from this form; the reasons it cannot, otherwise."""
        if len(self.slots) > 2:
            self.errors.append(
                f"{self.tool.title} takes {len(self.slots)} images per job; a run sets out two of them "
                "as rows and columns. Use Generate for this tool."
            )
        if self.style_id and self.style_id not in self.styles:
            self.style_error = "Choose one of the styles offered for this tool."
        if not self.token_was_valid:
            self.errors.append("This form is out of date, so no run was started. Your images are kept: start it again.")
        for choice in self.choices:
            if not choice.chosen:
                choice.errors.append(f"Add at least one {choice.slot.label.lower()}.")
        if self.refused:
            self.errors.append(self.refused_message(starting=True))
        if self.job_count > max_jobs:
            self.errors.append(too_many_message(self.job_count, max_jobs))
        return not (self.errors or self.style_error or any(choice.errors for choice in self.choices))

    def refused_message(self, *, starting: bool) -> str:
        count = len(self.refused)
        said = f"{count} file{'s were' if count != 1 else ' was'} refused"
        if starting:
            return (
                f"{said}, so no run was started. The files that passed are kept and ticked below: "
                "replace the refused ones or go without them, then start the run."
            )
        return f"{said}. The files that passed are kept and ticked below."

    def fill_pickers(self) -> None:
        for choice in self.choices:
            choice.offered = offered_images(self.designer, choice)


def too_many_message(count: int, max_jobs: int) -> str:
    return (
        f"This run would send {count} jobs; one run can send at most {max_jobs}. "
        "Untick some images, or split the collection into several runs."
    )
