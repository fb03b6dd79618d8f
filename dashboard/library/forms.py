"""The library's forms: its filters (read from the URL) and adding several files."""

from __future__ import annotations

from typing import cast

from django import forms

from dashboard.core.widgets import ChipBox, MultipleImageField
from dashboard.library import services as library


def kind_choices() -> list[tuple[str, str]]:
    return list(library.kinds().items())


class LibraryFilterForm(forms.Form):
    """The library's filters, read from the URL. Bad values fall back to defaults.
    `showing()` draws the filters applied."""

    q = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        widget=forms.TextInput(
            attrs={"type": "search", "id": "library-q", "placeholder": "Name or tag", "autocomplete": "off"}
        ),
    )
    kind = forms.ChoiceField(required=False, label="Kind", widget=forms.Select(attrs={"id": "library-kind"}))
    mine = forms.BooleanField(required=False, widget=ChipBox(label="Added by me"))
    archived = forms.BooleanField(required=False, widget=ChipBox(label="Show archived"))
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["kind"]).choices = [("", "All kinds"), *kind_choices()]

    @classmethod
    def showing(cls, filters: dict) -> LibraryFilterForm:
        return cls(initial=filters)

    def filters(self) -> dict:
        """Clean values (a bad one is dropped rather than failing the page)."""
        self.is_valid()
        data = self.cleaned_data
        return {
            "q": " ".join((data.get("q") or "").split()),
            "kind": data.get("kind") or "",
            "mine": bool(data.get("mine")),
            "archived": bool(data.get("archived")),
        }


class LibraryAddForm(forms.Form):
    """Several image files of one kind, added to the library at once (each checked on
    its own: library.add_chosen_files)."""

    kind = forms.ChoiceField(label="Kind", widget=forms.Select(attrs={"id": "add-kind"}))
    images = MultipleImageField(label="Image files")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["kind"]).choices = kind_choices()
        self.fields["images"].widget.attrs.update(
            {"id": "add-files", "class": "dropzone-input", "aria-describedby": "add-files-help add-files-chosen"}
        )


class LibraryImageForm(forms.Form):
    """An image's name and tags, edited on its card (library.change checks them)."""

    name = forms.CharField(max_length=120, widget=forms.TextInput(attrs={"data-focus-after-swap": True}))
    tags = forms.CharField(required=False)

    def __init__(self, data=None, *, image):
        # Many cards on a page: ids carry the image's (name-<pk>, tags-<pk>).
        initial = {"name": image.display_name, "tags": ", ".join(image.tag_list)}
        super().__init__(data, initial=initial, auto_id=f"%s-{image.pk}")
        self.fields["tags"].widget.attrs["aria-describedby"] = f"tags-help-{image.pk}"
