"""The gallery's filters, read from the URL."""

from __future__ import annotations

from datetime import date

from django import forms

from dashboard import genapi
from dashboard.gallery.history import PERIODS, Filters
from dashboard.models import Review

PAGE_SIZES = (20, 40, 100)
RATINGS = [("liked", "Liked"), ("disliked", "Disliked"), ("unrated", "Not rated")]


class GalleryFilterForm(forms.Form):
    """The gallery's filters, read from the URL. Bad values fall back to defaults."""

    status = forms.MultipleChoiceField(
        required=False, choices=genapi.Status.choices, widget=forms.CheckboxSelectMultiple
    )
    style = forms.CharField(required=False, max_length=128)
    limit = forms.TypedChoiceField(
        required=False,
        coerce=int,
        choices=[(size, f"{size} per page") for size in PAGE_SIZES],
        empty_value=PAGE_SIZES[0],
    )
    mine = forms.BooleanField(required=False, label="Made by me")
    run = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)
    rating = forms.ChoiceField(required=False, choices=[("", "Any rating"), *RATINGS])
    reason = forms.ChoiceField(required=False, choices=[("", "Any reason"), *Review.Reason.choices])
    tool = forms.CharField(required=False, max_length=128)
    when = forms.ChoiceField(required=False, choices=[("", "Any time"), *PERIODS.items()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # `from` and `to` read well in a URL but are not Python names.
        self.fields["from"] = forms.DateField(required=False, label="From")
        self.fields["to"] = forms.DateField(required=False, label="To")

    def clean_style(self) -> str:
        value = self.cleaned_data.get("style", "")
        return value if value and genapi.is_valid_id(value) else ""

    def clean_tool(self) -> str:
        value = self.cleaned_data.get("tool", "")
        return value if value and genapi.is_valid_id(value) else ""

    def period(self) -> tuple[str, date | None, date | None]:
        """The date range: a preset, or custom dates (dates alone mean custom, so they
        work from a form sent without JavaScript); reversed dates are put in order."""
        data = self.cleaned_data
        period, start, end = data.get("when") or "", data.get("from"), data.get("to")
        if period in ("", "custom") and (start or end):
            if start and end and start > end:
                start, end = end, start
            return "custom", start, end
        return ("", None, None) if period == "custom" else (period, None, None)

    def filters(self) -> Filters:
        """Clean values; an invalid one falls back to its default rather than failing the page."""
        self.is_valid()
        data = self.cleaned_data
        return Filters(
            statuses=tuple(data.get("status") or ()),
            style=data.get("style") or "",
            limit=data.get("limit") or PAGE_SIZES[0],
            mine=bool(data.get("mine")),
            run=data.get("run"),
            page=data.get("page") or 1,
            rating=data.get("rating") or "",
            reason=data.get("reason") or "",
            tool=data.get("tool") or "",
            **dict(zip(("period", "date_from", "date_to"), self.period(), strict=True)),
        )
