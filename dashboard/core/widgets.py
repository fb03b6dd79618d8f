"""Widgets the forms draw with: style cards with their previews, library images as
ticks with thumbnails, and a file input taking several files. Their templates are in
templates/core/widgets/; every attribute a field needs is set on its form."""

from __future__ import annotations

from collections.abc import Sequence

from django import forms
from django.urls import reverse

from dashboard import genapi
from dashboard.models import InputImage

IMAGE_TYPES = "image/png,image/jpeg,image/webp"


class StyleCards(forms.RadioSelect):
    """A tool's styles as cards, each with its preview ("No style" first)."""

    template_name = "core/widgets/style_cards.html"
    option_template_name = "core/widgets/style_card.html"

    def __init__(self, attrs=None, *, styles: Sequence[genapi.Style] = ()):
        super().__init__(attrs)
        self.styles = {style.id: style for style in styles}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["attrs"].pop("id", None)  # each card's label holds its input: no ids needed
        style = self.styles.get(str(value))
        option["preview_url"] = (
            reverse("style_preview", args=[style.tool, style.id]) if style and style.preview_path else ""
        )
        return option


class ImageTicks(forms.CheckboxSelectMultiple):
    """Library images as ticks with their thumbnails (a run form's picker)."""

    template_name = "core/widgets/image_ticks.html"
    option_template_name = "core/widgets/image_tick.html"

    def __init__(self, attrs=None, images: Sequence[InputImage] = ()):
        super().__init__(attrs)
        self.show(images)

    def show(self, images: Sequence[InputImage]) -> None:
        """Offer these images (a picker shows a few of the many its field accepts)."""
        self.images = {image.pk: image for image in images}
        self.choices = [(image.pk, image.display_name) for image in images]

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["attrs"].pop("id", None)  # each tick's label holds its input: no ids needed
        option["image"] = image = self.images[value]
        option["thumbnail_url"] = reverse("input_image", args=[image.pk, "thumbnail"])
        return option


class ImageFiles(forms.FileInput):
    """A file input for images, one file or several."""

    def __init__(self, attrs=None, *, multiple: bool = False):
        super().__init__({"accept": IMAGE_TYPES, **(attrs or {})})
        self.allow_multiple_selected = multiple
        if multiple:
            self.attrs["multiple"] = True

    def value_from_datadict(self, data, files, name):
        if self.allow_multiple_selected:
            return files.getlist(name)
        return files.get(name)


class MultipleImageField(forms.FileField):
    """Several image files in one field (Django's documented pattern); their checks are
    the library's, made file by file so one refused file does not refuse the rest."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", ImageFiles(multiple=True))
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        return [file for file in (data or []) if file]


class Select(forms.Select):
    """Django's select with its options written in place: an include for each option
    (and another for its attributes) made the gallery's filters, 50 options, about a
    third of the page's time. Options carry no attributes of their own here."""

    template_name = "core/widgets/select.html"


class Chips(forms.RadioSelect):
    """Choices as a row of chips, one picked; `marked` adds attributes to some options
    (the script finds them by these)."""

    template_name = "core/widgets/chips.html"
    option_template_name = "core/widgets/chip.html"

    def __init__(self, attrs=None, choices=(), *, marked: dict[str, dict] | None = None):
        super().__init__(attrs, choices)
        self.marked = marked or {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        option["attrs"].pop("id", None)  # each chip's label holds its input: no ids needed
        option["attrs"].update(self.marked.get(str(value), {}))
        return option


class ChipBoxes(Chips, forms.CheckboxSelectMultiple):
    """Choices as a row of chips, any number ticked."""

    input_type = "checkbox"
    allow_multiple_selected = True


class ChipBox(forms.CheckboxInput):
    """One tick as a chip, sent as `name=1`."""

    template_name = "core/widgets/chip_box.html"

    def __init__(self, attrs=None, *, label: str = ""):
        super().__init__({"value": "1", **(attrs or {})})
        self.label = label

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"].pop("id", None)  # the chip's label holds its input
        context["widget"]["label"] = self.label
        return context
