"""The matrix run form: one tool, one style, and several images for each of its slots.

Each slot takes images ticked in the team library (`<slot>__library`) and new files
(`<slot>`, several at once). New files pass the same checks as Generate's uploads;
each one that passes is stored in the library at once, whatever happens to the rest of
the form, and comes back ticked, so a form shown again never asks for a file twice.
Refused files are named with their reasons and never stored.

The form is drawn from the address (ticks and searches in the URL, unbound: nothing is
said wrong before the designer asks to start) and checked when "Start run" is pressed
(bound). "Add files and keep choosing" stores the files and draws it again, unbound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from django import forms
from django.conf import settings
from django.http import QueryDict
from django.urls import reverse
from django.utils.http import urlencode

from dashboard import genapi
from dashboard.core import display, tokens
from dashboard.core.slots import Slot
from dashboard.core.widgets import ImageTicks, MultipleImageField, StyleCards
from dashboard.library import services as library
from dashboard.models import RUN_NAME_MAX_LENGTH, InputImage

# The picker shows the images ticked, then this many of the newest that match the search.
PICKER_SIZE = 48
SEARCH_MAX_LENGTH = 100
OUT_OF_DATE = "This form is out of date, so no run was started. Your images are kept: start it again."


def library_field(slot: Slot) -> str:
    return f"{slot.name}__library"


def search_field(slot: Slot) -> str:
    return f"{slot.name}__q"


@dataclass(frozen=True)
class RefusedFile:
    name: str
    reason: str


def picked_images(designer, ids) -> list[InputImage]:
    """The library images named by these ids, in the order given; images the designer
    may not pick (another's private image or draft, archived ones) and malformed ids are
    left out, as in Generate's slots (library.pickable)."""
    wanted = list(dict.fromkeys(int(value) for value in map(str, ids) if value.isdecimal() and len(value) < 12))
    found = library.pickable(designer).filter(pk__in=wanted).in_bulk()
    return [found[pk] for pk in wanted if pk in found]


class RunNameField(forms.CharField):
    """What the designers will call a run, optional: one line of at most RUN_NAME_MAX_LENGTH."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "help_text", "What the team will know this run by, such as “Spring dresses on the new models”."
        )
        super().__init__(
            required=False,
            max_length=RUN_NAME_MAX_LENGTH,
            label="Name (optional)",
            widget=forms.TextInput(attrs={"autocomplete": "off"}),
            error_messages={
                "max_length": f"A run's name has at most {RUN_NAME_MAX_LENGTH} characters (it has %(show_value)d)."
            },
            **kwargs,
        )

    def to_python(self, value):
        return " ".join((super().to_python(value) or "").split())  # one line, as typed or pasted


class RenameRunForm(forms.Form):
    """A run's name changed on its page."""

    name = RunNameField(help_text="Leave it empty to call it by its number again.")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "run-rename-%s")
        super().__init__(*args, **kwargs)


class PickedImagesField(forms.ModelMultipleChoiceField):
    """Ticked library images, in the order ticked; one the designer may not pick is
    left out rather than refusing the form (it may have been archived meanwhile)."""

    def __init__(self, designer, **kwargs):
        self.designer = designer
        super().__init__(queryset=library.pickable(designer), required=False, widget=ImageTicks, **kwargs)

    def clean(self, value):
        return picked_images(self.designer, value or [])

    def bound_data(self, data, initial):
        """Drawn, the ticks are what the form chose (RunForm.choices), files just stored included."""
        return initial


class SearchField(forms.CharField):
    """A picker's search: words, cut to SEARCH_MAX_LENGTH characters."""

    def to_python(self, value):
        return " ".join((super().to_python(value) or "").split())[:SEARCH_MAX_LENGTH]


@dataclass
class SlotChoice:
    """One slot of the form as drawn: its fields, what is chosen, what the picker offers."""

    slot: Slot
    files_field: forms.BoundField
    library_field: forms.BoundField
    search_field: forms.BoundField
    chosen: list[InputImage] = field(default_factory=list)
    query: str = ""
    refused: list[RefusedFile] = field(default_factory=list)
    offered: list[InputImage] = field(default_factory=list)

    @property
    def chosen_ids(self) -> set[int]:
        return {image.pk for image in self.chosen}

    @property
    def errors(self) -> list[str]:
        return [str(error) for error in self.library_field.errors]


def size_limits_text() -> str:
    """What one send of the form may carry, as the page says it."""
    return (
        f"You can add up to {display.describe_size(settings.REQUEST_MAX_BYTES)} of new files in one go "
        f"(each up to {display.describe_size(settings.UPLOAD_MAX_BYTES)}). For more, press "
        f"“Add files and keep choosing”, then add the rest."
    )


def too_many_message(count: int, max_jobs: int) -> str:
    return (
        f"This run would send {count} jobs; one run can send at most {max_jobs}. "
        "Untick some images, or split the collection into several runs."
    )


class RunForm(forms.Form):
    """A run: a tool, an optional style, and for each slot library ticks and new files."""

    tool = forms.CharField(widget=forms.HiddenInput)
    tool_group = forms.CharField(required=False, widget=forms.HiddenInput)
    style = forms.ChoiceField(
        required=False, error_messages={"invalid_choice": "Choose one of the styles offered for this tool."}
    )
    name = RunNameField()
    submission = tokens.TokenField(out_of_date=OUT_OF_DATE)

    def __init__(
        self,
        data=None,
        files=None,
        *,
        designer,
        tool: genapi.Tool,
        slots: tuple[Slot, ...],
        styles: list[genapi.Style],
        initial: dict[str, Any] | None = None,
    ):
        super().__init__(data, files, initial=initial)
        self.designer = designer
        self.chosen_tool = tool
        self.slots = slots
        self.styles = {style.id: style for style in styles}
        self.refused: list[RefusedFile] = []
        self.refused_by_slot: dict[str, list[RefusedFile]] = {}
        self.stored: dict[str, list[InputImage]] = {}
        self._chosen: dict[str, list[InputImage]] = {}
        self.fields["tool"].initial = tool.name
        self.fields["tool_group"].initial = tool.group
        style = cast(forms.ChoiceField, self.fields["style"])
        style.widget = StyleCards(styles=styles)
        style.choices = [("", "No style")] + [(offered.id, offered.title) for offered in styles]
        picker_url = reverse("run_picker")
        for slot in slots:
            self.fields[slot.name] = MultipleImageField(label=slot.label, help_text=slot.help)
            self.fields[slot.name].widget.attrs.update(
                {
                    "id": f"{slot.name}-files",
                    "class": "run-drop-input",
                    "aria-describedby": f"{slot.name}-help run-size-limits",
                    "data-run-files": True,
                }
            )
            self.fields[library_field(slot)] = PickedImagesField(designer, label=slot.label)
            self.fields[library_field(slot)].widget.attrs["data-pick"] = True
            query = urlencode({"tool": tool.name, "tool_group": tool.group, "slot": slot.name})
            self.fields[search_field(slot)] = SearchField(
                required=False,
                widget=forms.TextInput(
                    attrs={
                        "type": "search",
                        "id": f"{slot.name}-search",
                        "placeholder": "Search by name or tag",
                        "autocomplete": "off",
                        # Its own form (see the template): Enter searches, never starts the run.
                        "form": f"picker-search-{slot.name}",
                        "data-picker-search": True,
                        "hx-get": f"{picker_url}?{query}",
                        "hx-trigger": "input changed delay:300ms, search",
                        "hx-target": f"#picker-{slot.name}",
                        "hx-swap": "outerHTML",
                        "hx-include": f"#picker-{slot.name}",
                    }
                ),
            )

    @classmethod
    def initial_from(cls, data: QueryDict, slots: tuple[Slot, ...]) -> dict[str, Any]:
        """What a form drawn from these values starts with (the URL's ticks and searches,
        or a form sent with "Add files and keep choosing"), without judging them."""
        initial: dict[str, Any] = {"style": data.get("style", "")}
        for slot in slots:
            initial[library_field(slot)] = data.getlist(library_field(slot))
            initial[search_field(slot)] = SearchField().to_python(data.get(search_field(slot), ""))
        if data.get("submission"):
            initial["submission"] = tokens.carried(data.get("submission"))
        return initial

    # --- What is chosen ---------------------------------------------------------------

    def chosen(self, slot: Slot) -> list[InputImage]:
        """The slot's images: those ticked (that the designer may pick), then those just stored."""
        if slot.name not in self._chosen:
            name = library_field(slot)
            source = cast(QueryDict, self.data).getlist(name) if self.is_bound else (self.initial.get(name) or [])
            ticked = picked_images(self.designer, source)
            ticked_ids = {image.pk for image in ticked}
            stored = [image for image in self.stored.get(slot.name, []) if image.pk not in ticked_ids]
            self._chosen[slot.name] = [*ticked, *stored]
        return self._chosen[slot.name]

    def choices(self) -> list[SlotChoice]:
        """Each slot as drawn, its picker filled: the chosen images first (so a search
        never hides a tick), then the newest of the slot's kind matching the search."""
        drawn = []
        for slot in self.slots:
            search = self[search_field(slot)]
            query = SearchField().to_python(search.value() or "")
            chosen = self.chosen(slot)
            matching = library.search(self.designer, kind=slot.name, q=query)
            offered = [*chosen, *matching.exclude(pk__in=[image.pk for image in chosen])[:PICKER_SIZE]]
            self.fields[library_field(slot)].widget.show(offered)
            self.initial[library_field(slot)] = [image.pk for image in chosen]
            drawn.append(
                SlotChoice(
                    slot=slot,
                    files_field=self[slot.name],
                    library_field=self[library_field(slot)],
                    search_field=search,
                    chosen=chosen,
                    query=query,
                    refused=self.refused_by_slot.get(slot.name, []),
                    offered=offered,
                )
            )
        return drawn

    @property
    def rows(self) -> Slot:
        return self.slots[0]

    @property
    def columns(self) -> Slot | None:
        return self.slots[1] if len(self.slots) > 1 else None

    @property
    def job_count(self) -> int:
        count = 1
        for slot in self.slots:
            count *= len(self.chosen(slot))
        return count

    @property
    def chosen_style(self) -> genapi.Style | None:
        return self.styles.get(self.cleaned_data.get("style") or "")

    # --- Checking what was sent -------------------------------------------------------

    def store_new_files(self) -> int:
        """Check every new file as the library does (library.add_files); store those that
        pass (ticked from now on) and list the rest with their reasons. How many were stored."""
        count, may_read = 0, settings.UPLOADS_PER_REQUEST  # for all the slots together
        for slot in self.slots:
            if not (new := self.files.getlist(slot.name)):
                continue
            added = library.add_files(self.designer, new, slot.name, may_read=may_read)
            may_read = max(0, may_read - len(new))
            self.stored[slot.name] = added.images
            self._chosen.pop(slot.name, None)
            refused = [RefusedFile(name=name, reason=reason) for name, reason in added.refused]
            self.refused_by_slot[slot.name] = refused
            self.refused.extend(refused)
            count += len(added.images)
        return count

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if len(self.slots) > 2:
            self.add_error(
                None,
                f"{self.chosen_tool.title} takes {len(self.slots)} images per job; a run sets out two of them "
                "as rows and columns. Use Generate for this tool.",
            )
        for slot in self.slots:
            cleaned[library_field(slot)] = self.chosen(slot)
            if not cleaned[library_field(slot)]:
                self.add_error(library_field(slot), f"Add at least one {slot.label.lower()}.")
        if self.refused:
            self.add_error(None, self.refused_message(starting=True))
        max_jobs = settings.RUN_MAX_JOBS
        if self.job_count > max_jobs:
            self.add_error(None, too_many_message(self.job_count, max_jobs))
        return cleaned

    def refused_message(self, *, starting: bool) -> str:
        count = len(self.refused)
        said = f"{count} file{'s were' if count != 1 else ' was'} refused"
        if starting:
            return (
                f"{said}, so no run was started. The files that passed are kept and ticked below: "
                "replace the refused ones or go without them, then start the run."
            )
        return f"{said}. The files that passed are kept and ticked below."

    def carried_on(self) -> RunForm:
        """This form drawn again, unbound, with everything it chose and the files just
        stored ticked ("Add files and keep choosing")."""
        initial = self.initial_from(cast(QueryDict, self.data), self.slots)
        for slot in self.slots:
            initial[library_field(slot)] = [image.pk for image in self.chosen(slot)]
        again = RunForm(
            designer=self.designer,
            tool=self.chosen_tool,
            slots=self.slots,
            styles=list(self.styles.values()),
            initial=initial,
        )
        again.refused = self.refused
        again.refused_by_slot = self.refused_by_slot
        return again
