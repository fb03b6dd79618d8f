"""The generate form: a tool, a style and one image per slot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.http import urlencode

from dashboard import genapi
from dashboard.core import images, tokens
from dashboard.core.slots import Slot
from dashboard.core.widgets import ImageFiles, StyleCards
from dashboard.library import services as library
from dashboard.library import uploads
from dashboard.models import InputImage


@dataclass
class SlotField:
    """What the template needs to draw one image slot."""

    slot: Slot
    field: forms.BoundField
    kept_field: forms.BoundField
    kept: InputImage | None
    errors: list[str]
    # The library picker's query for this slot (it carries the other slots' images, so a
    # choice made without JavaScript comes back with them).
    pick_query: str = ""


def kept_field_name(slot: Slot) -> str:
    return f"{slot.name}__kept"


def unavailable_message(slot: Slot) -> str:
    return (
        f"The {slot.label.lower()} chosen is not available to you (it may be private, archived or deleted): "
        "choose another or add a file."
    )


class KeptImageField(forms.ModelChoiceField):
    """A stored image named by its row id: the designer's own, or one of the team's
    library that is not archived (library.pickable). Someone else's private image or
    draft, or a malformed id, simply is not found.

    Drawn, it shows the image the form keeps in its slot (GenerateForm.kept, its
    initial value), not the id that was sent: a new upload stored meanwhile replaces
    it, and one that may not be used is left out."""

    def __init__(self, designer):
        super().__init__(
            queryset=library.pickable(designer), required=False, widget=forms.HiddenInput(attrs={"data-kept": True})
        )

    def bound_data(self, data, initial):
        return initial


def kept_image_field(designer) -> KeptImageField:
    return KeptImageField(designer)


def kept_images(designer, slots: tuple[Slot, ...], data, *, in_form: bool) -> dict[str, InputImage]:
    """The stored images named by slot in a form (`person__kept=12`) or in the page's
    URL (`?person=12`); those the designer may not use are left out (see
    `unavailable_slots`)."""
    found = {}
    for slot in slots:
        try:
            image = kept_image_field(designer).clean(data.get(kept_field_name(slot) if in_form else slot.name))
        except forms.ValidationError:
            continue
        if image is not None:
            found[slot.name] = image
    return found


def unavailable_slots(designer, slots: tuple[Slot, ...], data, *, in_form: bool) -> list[Slot]:
    """The slots whose named image (in a form or the URL) the designer may not use."""
    named = {slot.name: data.get(kept_field_name(slot) if in_form else slot.name) for slot in slots}
    found = kept_images(designer, slots, data, in_form=in_form)
    return [slot for slot in slots if named[slot.name] and slot.name not in found]


class GenerateForm(forms.Form):
    """One job: a tool, an optional style and an image for each of its slots.

    An image may come as a new upload or as one stored earlier, the designer's own or
    one from the team's library (`<slot>__kept`, see library.pickable): the
    view stores every upload that passes its checks at once (see `checked_uploads`),
    even when another field fails or the upstream refuses the job, and the form then
    carries it, so a designer never picks the same file twice. Such an upload is a
    draft until a job uses it: private, bounded per designer (dashboard/library/uploads.py).
    New uploads are counted against the designer's per-minute limits before they are
    read; `submission` is the form's one-time token (dashboard/core/tokens.py).
    """

    tool = forms.CharField(widget=forms.HiddenInput)
    # The tool's group, so the form can be sent while the catalogue cannot be read.
    tool_group = forms.CharField(required=False, widget=forms.HiddenInput)
    style = forms.ChoiceField(
        required=False, error_messages={"invalid_choice": "Choose one of the styles offered for this tool."}
    )
    submission = tokens.TokenField()

    def __init__(
        self,
        *args,
        designer,
        tool: genapi.Tool,
        slots: tuple[Slot, ...],
        styles: list[genapi.Style],
        kept: dict[str, InputImage] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.designer = designer
        self.chosen_tool = tool
        self.slots = slots
        self.styles = {style.id: style for style in styles}
        self.fields["tool"].initial = tool.name
        self.fields["tool_group"].initial = tool.group
        style = cast(forms.ChoiceField, self.fields["style"])
        style.widget = StyleCards(styles=styles)
        style.choices = [("", "No style")] + [(offered.id, offered.title) for offered in styles]
        self._inspected: dict[str, images.ImageInfo] = {}
        for slot in slots:
            self.fields[slot.name] = forms.FileField(
                label=slot.label,
                help_text=slot.help,
                required=False,
                error_messages={"empty": images.EMPTY_MESSAGE},
                widget=ImageFiles(attrs={"class": "dropzone-input"}),
            )
            self.fields[kept_field_name(slot)] = kept_image_field(designer)
        self.kept: dict[str, InputImage] = dict(kept or {})
        if self.is_bound:
            self.kept.update(kept_images(designer, slots, self.data, in_form=True))

    def get_initial_for_field(self, field, field_name):
        """A kept image's field shows the image this form keeps in its slot (see KeptImageField)."""
        if field_name.endswith("__kept"):
            kept = self.kept.get(field_name.removesuffix("__kept"))
            return kept.pk if kept else None
        return super().get_initial_for_field(field, field_name)

    def clean_tool(self) -> str:
        value = self.cleaned_data["tool"]
        if value != self.chosen_tool.name:
            raise forms.ValidationError("Choose one of the tools offered.")
        return value

    def upload(self, slot: Slot) -> UploadedFile | None:
        """The file sent for this slot, if any."""
        sent = self.files.get(slot.name)
        return sent if isinstance(sent, UploadedFile) else None

    def clean(self):
        cleaned = super().clean()
        new = [upload for slot in self.slots if slot.name not in self.errors and (upload := self.upload(slot))]
        refusal = uploads.upload_refusal(self.designer, [upload.size or 0 for upload in new])
        if refusal:
            for slot in self.slots:
                if slot.name not in self.errors and self.upload(slot):
                    self.add_error(slot.name, refusal)
                    self.kept.pop(slot.name, None)
        for slot in self.slots:
            if slot.name in self.errors:
                self.kept.pop(slot.name, None)
                continue
            upload = self.upload(slot)
            if upload is not None:
                try:
                    self._inspected[slot.name] = images.inspect_image(
                        images.readable(upload),
                        max_bytes=settings.UPLOAD_MAX_BYTES,
                        max_pixels=settings.UPLOAD_MAX_PIXELS,
                    )
                except images.ImageRejected as exc:
                    self.add_error(slot.name, exc.message)
                    self.kept.pop(slot.name, None)
            elif slot.name not in self.kept:
                named = kept_field_name(slot) in self.errors
                self.add_error(slot.name, unavailable_message(slot) if named else f"Add the {slot.label.lower()}.")
        return cleaned

    def checked_uploads(self) -> list[tuple[Slot, UploadedFile, images.ImageInfo]]:
        """The new uploads that passed their checks, whatever happened to the rest."""
        return [
            (slot, upload, info)
            for slot in self.slots
            if (info := self._inspected.get(slot.name)) is not None
            and slot.name not in self.errors
            and (upload := self.upload(slot)) is not None
        ]

    def keep(self, slot: Slot, image: InputImage) -> None:
        """Carry a stored image in this slot from now on (instead of its upload)."""
        self.kept[slot.name] = image
        self._inspected.pop(slot.name, None)

    @property
    def chosen_style(self) -> genapi.Style | None:
        return self.styles.get(self.cleaned_data.get("style") or "")

    def inputs(self) -> list[tuple[Slot, InputImage]]:
        return [(slot, self.kept[slot.name]) for slot in self.slots]

    def slot_fields(self) -> list[SlotField]:
        """Each slot as the template draws it; the file input described by its help, the
        file chosen and, once refused, its errors."""
        drawn = []
        for slot in self.slots:
            errors = [str(error) for error in self.errors.get(slot.name, [])] if self.is_bound else []
            described_by = [f"{slot.name}-help", f"{slot.name}-file"] + ([f"{slot.name}-errors"] if errors else [])
            self.fields[slot.name].widget.attrs["aria-describedby"] = " ".join(described_by)
            others: dict[str, str | int] = {name: image.pk for name, image in self.kept.items() if name != slot.name}
            drawn.append(
                SlotField(
                    slot=slot,
                    field=self[slot.name],
                    kept_field=self[kept_field_name(slot)],
                    kept=self.kept.get(slot.name),
                    errors=errors,
                    pick_query=urlencode({"slot": slot.name, "tool": self.chosen_tool.name, **others}),
                )
            )
        return drawn

    def add_upstream_errors(self, error: genapi.UpstreamRejected) -> None:
        """Put a 400/422's per-field messages on the matching fields; the rest on the form."""
        unmatched = []
        for name, messages in error.field_errors.items():
            if name in self.fields and not name.endswith("__kept"):
                for message in messages:
                    self.add_error(name, message)
            else:
                unmatched.extend(messages)
        if unmatched or not error.field_errors:
            self.add_error(None, "; ".join(unmatched) if unmatched else error.message)
