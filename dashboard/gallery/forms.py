"""The gallery's filters, read from the URL."""

from __future__ import annotations

from datetime import date
from typing import cast

from django import forms

from dashboard import genapi
from dashboard.core.widgets import ChipBox, ChipBoxes, Chips
from dashboard.gallery.history import PERIODS, Catalogue, Filters
from dashboard.models import Review

PAGE_SIZES = (20, 40, 100)
RATINGS = [("liked", "Liked"), ("disliked", "Disliked"), ("unrated", "Not rated")]


class GalleryFilterForm(forms.Form):
    """The gallery's filters, read from the URL. Bad values fall back to defaults.

    Bound to the URL it reads the filters (`filters()`); `showing()` draws them, the
    values applied filled in, with the catalogue's tools and styles to choose from."""

    status = forms.MultipleChoiceField(required=False, choices=genapi.Status.choices, widget=ChipBoxes)
    tool = forms.CharField(required=False, max_length=128, widget=forms.Select(attrs={"id": "filter-tool"}))
    style = forms.CharField(required=False, max_length=128, widget=forms.Select(attrs={"id": "filter-style"}))
    when = forms.ChoiceField(
        required=False,
        choices=[("", "Any time"), *PERIODS.items()],
        # gallery.js: a date typed in means "custom dates", a preset clears them.
        widget=Chips(marked={"custom": {"data-custom-dates": True}}),
    )
    limit = forms.TypedChoiceField(
        required=False,
        coerce=int,
        choices=[(size, str(size)) for size in PAGE_SIZES],
        empty_value=None,
        widget=forms.Select(attrs={"id": "filter-limit"}),
    )
    rating = forms.ChoiceField(
        required=False, choices=[("", "Any rating"), *RATINGS], widget=forms.Select(attrs={"id": "filter-rating"})
    )
    reason = forms.ChoiceField(
        required=False,
        choices=[("", "Any reason"), *Review.Reason.choices],
        widget=forms.Select(attrs={"id": "filter-reason"}),
    )
    run = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1, widget=forms.HiddenInput)
    mine = forms.BooleanField(required=False, widget=ChipBox(label="Made by me"))
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)

    def __init__(self, *args, catalogue: Catalogue | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # `from` and `to` read well in a URL but are not Python names.
        for name, label in (("from", "From"), ("to", "To")):
            self.fields[name] = forms.DateField(
                required=False,
                label=label,
                widget=forms.DateInput(attrs={"type": "date", "data-date-bound": True}, format="%Y-%m-%d"),
            )
        if catalogue is not None:
            tools = cast(forms.Select, self.fields["tool"].widget)
            tools.choices = [("", "All tools"), *((tool.name, tool.title) for tool in catalogue.tools.values())]
            styles = cast(forms.Select, self.fields["style"].widget)
            styles.choices = [
                ("", "All styles"),
                *(
                    (tool.title, [(style.id, style.title) for style in offered])
                    for tool, offered in catalogue.styles_by_tool()
                ),
            ]

    @classmethod
    def showing(cls, filters: Filters, catalogue: Catalogue) -> GalleryFilterForm:
        """The form as the page draws it: the filters applied (a bad value shows as its default)."""
        initial = {
            "status": list(filters.statuses),
            "tool": filters.tool,
            "style": filters.style,
            "when": filters.period,
            "from": filters.date_from,
            "to": filters.date_to,
            "limit": filters.limit,
            "rating": filters.rating,
            "reason": filters.reason,
            "run": filters.run,
            "mine": filters.mine,
        }
        return cls(initial=initial, catalogue=catalogue)

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
        period, date_from, date_to = self.period()
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
            period=period,
            date_from=date_from,
            date_to=date_to,
        )
