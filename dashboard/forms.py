"""Forms: the generate form (tool, generation type, one image per slot)."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.conf import settings

from dashboard import genapi, images, jobs
from dashboard.history import Filters
from dashboard.models import InputImage
from dashboard.slots import Slot


@dataclass
class SlotField:
    """What the template needs to draw one image slot."""

    slot: Slot
    field: forms.BoundField
    kept_name: str
    kept: InputImage | None
    errors: list[str]


def kept_field_name(slot: Slot) -> str:
    return f"{slot.name}__kept"


def primary_key(value: object) -> int | None:
    """A row number from a form or URL, or None: only ASCII digits that fit a 64-bit column
    ("²".isdigit() is true, and 30 digits overflow SQLite: both were 500s)."""
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


class GenerateForm(forms.Form):
    """One job: a tool, an optional generation type and an image for each of its slots.

    Images that pass their checks are stored at once (even when another field fails, or
    the upstream refuses the job), and the form then carries them as `<slot>__kept` ids:
    a designer never picks the same file twice.
    """

    tool = forms.CharField(widget=forms.HiddenInput)
    generation_type = forms.ChoiceField(required=False, widget=forms.RadioSelect)

    def __init__(
        self,
        *args,
        designer,
        tool: genapi.Tool,
        slots: tuple[Slot, ...],
        generation_types: list[genapi.GenerationType],
        kept: dict[str, InputImage] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.designer = designer
        self.tool = tool
        self.slots = slots
        self.generation_types = {gt.id: gt for gt in generation_types}
        self.fields["tool"].initial = tool.name
        self.fields["generation_type"].choices = [("", "None")] + [(gt.id, gt.title) for gt in generation_types]
        self.fields["generation_type"].error_messages["invalid_choice"] = "Choose one of the styles offered for this tool."
        self.kept: dict[str, InputImage] = dict(kept or {})
        self._inspected: dict[str, images.ImageInfo] = {}
        for slot in slots:
            self.fields[slot.name] = forms.FileField(
                label=slot.label,
                help_text=slot.help,
                required=False,
                error_messages={"empty": images.EMPTY_MESSAGE},
                widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
            )
            self.fields[kept_field_name(slot)] = forms.CharField(required=False, widget=forms.HiddenInput)
        if self.is_bound:
            self._collect_kept()

    def _collect_kept(self) -> None:
        wanted = {
            slot.name: pk
            for slot in self.slots
            if (pk := primary_key(self.data.get(kept_field_name(slot), ""))) is not None
        }
        owned = InputImage.objects.filter(owner=self.designer, pk__in=wanted.values()).in_bulk()
        for slot_name, pk in wanted.items():
            if pk in owned:
                self.kept[slot_name] = owned[pk]

    def clean_tool(self) -> str:
        value = self.cleaned_data["tool"]
        if value != self.tool.name:
            raise forms.ValidationError("Choose one of the tools offered.")
        return value

    def clean(self):
        cleaned = super().clean()
        for slot in self.slots:
            if slot.name in self.errors:
                self.kept.pop(slot.name, None)
                continue
            upload = self.files.get(slot.name)
            if upload is not None:
                try:
                    self._inspected[slot.name] = images.inspect_image(
                        upload, max_bytes=settings.UPLOAD_MAX_BYTES, max_pixels=settings.UPLOAD_MAX_PIXELS
                    )
                except images.ImageRejected as exc:
                    self.add_error(slot.name, exc.message)
                    self.kept.pop(slot.name, None)
            elif slot.name not in self.kept:
                self.add_error(slot.name, f"Add the {slot.label.lower()}.")
        return cleaned

    def keep_valid_uploads(self) -> None:
        """Store every upload that passed its checks, whatever happened to the rest."""
        for slot in self.slots:
            info = self._inspected.get(slot.name)
            if info is not None and slot.name not in self.errors:
                self.kept[slot.name] = jobs.store_input(self.designer, self.files[slot.name], info)
        self._inspected.clear()

    @property
    def chosen_generation_type(self) -> genapi.GenerationType | None:
        return self.generation_types.get(self.cleaned_data.get("generation_type") or "")

    def inputs(self) -> list[tuple[Slot, InputImage]]:
        return [(slot, self.kept[slot.name]) for slot in self.slots]

    def slot_fields(self) -> list[SlotField]:
        return [
            SlotField(
                slot=slot,
                field=self[slot.name],
                kept_name=kept_field_name(slot),
                kept=self.kept.get(slot.name),
                errors=list(self.errors.get(slot.name, [])),
            )
            for slot in self.slots
        ]

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


PAGE_SIZES = (20, 40, 100)


class GalleryFilterForm(forms.Form):
    """The gallery's filters, read from the URL. Bad values fall back to defaults."""

    status = forms.MultipleChoiceField(
        required=False,
        choices=[("pending", "Running"), ("complete", "Done"), ("error", "Failed")],
        widget=forms.CheckboxSelectMultiple,
    )
    type = forms.CharField(required=False, max_length=128)
    limit = forms.TypedChoiceField(
        required=False, coerce=int, choices=[(size, f"{size} per page") for size in PAGE_SIZES], empty_value=PAGE_SIZES[0]
    )
    mine = forms.BooleanField(required=False, label="Made by me")
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)

    def clean_type(self) -> str:
        value = self.cleaned_data.get("type", "")
        return value if value and genapi.is_valid_id(value) else ""

    def filters(self) -> Filters:
        """Clean values; an invalid one falls back to its default rather than failing the page."""
        self.is_valid()
        data = self.cleaned_data
        return Filters(
            statuses=tuple(data.get("status") or ()),
            type=data.get("type") or "",
            limit=data.get("limit") or PAGE_SIZES[0],
            mine=bool(data.get("mine")),
            page=data.get("page") or 1,
        )
