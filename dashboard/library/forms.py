"""The library's filters, read from the URL."""

from __future__ import annotations

from django import forms

from dashboard.library import services as library


class LibraryFilterForm(forms.Form):
    """The library's filters, read from the URL. Bad values fall back to defaults."""

    q = forms.CharField(required=False, max_length=100, label="Search")
    kind = forms.ChoiceField(required=False, label="Kind")
    mine = forms.BooleanField(required=False, label="Added by me")
    archived = forms.BooleanField(required=False, label="Show archived")
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "All kinds"), *library.kinds().items()]

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
