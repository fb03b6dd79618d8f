"""The gallery's filters, read from the URL."""

from __future__ import annotations

from datetime import date
from typing import cast

from django import forms
from django.contrib.auth import get_user_model

from dashboard import genapi
from dashboard.core.catalogue import Catalogue
from dashboard.core.widgets import ChipBox, ChipBoxes, Chips, Select
from dashboard.gallery.history import PERIODS, Filters
from dashboard.models import Review

PAGE_SIZES = (20, 40, 100)
MAX_INPUTS = 4  # library images one filter may name (a run's cell names two)
RATINGS = [("liked", "Liked"), ("disliked", "Disliked"), ("unrated", "Not rated")]


class ImageIdsField(forms.Field):
    """Library image ids, repeated in the URL (`input=3&input=8`)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> tuple[int, ...]:
        values = value if isinstance(value, list | tuple) else [value] if value else []
        try:
            ids = tuple(dict.fromkeys(int(each) for each in values))
        except (TypeError, ValueError):
            raise forms.ValidationError("An input image is named by its number.") from None
        if len(ids) > MAX_INPUTS or any(not 0 < each < 2**31 for each in ids):
            raise forms.ValidationError(f"At most {MAX_INPUTS} input images, each by its number.")
        return ids


class GalleryFilterForm(forms.Form):
    """The gallery's filters, read from the URL. Bad values fall back to defaults.

    Bound to the URL it reads the filters (`filters()`); `showing()` draws them, the
    values applied filled in, with the catalogue's tools and styles to choose from."""

    q = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "id": "filter-q",
                "placeholder": "Tool, style, garment, model, tag, note, run, designer",
                "autocomplete": "off",
            }
        ),
    )
    status = forms.MultipleChoiceField(required=False, choices=genapi.Status.choices, widget=ChipBoxes)
    tool = forms.CharField(required=False, max_length=128, widget=Select(attrs={"id": "filter-tool"}))
    style = forms.CharField(required=False, max_length=128, widget=Select(attrs={"id": "filter-style"}))
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
        widget=Select(attrs={"id": "filter-limit"}),
    )
    rating = forms.ChoiceField(
        required=False, choices=[("", "Any rating"), *RATINGS], widget=Select(attrs={"id": "filter-rating"})
    )
    reason = forms.ChoiceField(
        required=False,
        choices=[("", "Any reason"), *Review.Reason.choices],
        widget=Select(attrs={"id": "filter-reason"}),
    )
    run = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1, widget=forms.HiddenInput)
    # With `run`: the attempts "Try again" replaced, beside each cell's latest (`attempts=all`).
    attempts = forms.BooleanField(
        required=False, widget=ChipBox(attrs={"value": "all"}, label="Include earlier attempts")
    )
    mine = forms.BooleanField(required=False, widget=ChipBox(label="Made by me"))
    designer = forms.CharField(required=False, max_length=150, widget=Select(attrs={"id": "filter-designer"}))
    input = ImageIdsField(required=False)
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
            designers = cast(Select, self.fields["designer"].widget)
            designers.choices = [("", "Every designer"), *((name, name) for name in designer_names())]
            tools = cast(Select, self.fields["tool"].widget)
            tools.choices = [("", "All tools"), *((tool.name, tool.title) for tool in catalogue.tools.values())]
            styles = cast(Select, self.fields["style"].widget)
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
            "attempts": filters.all_attempts,
            "mine": filters.mine,
            "q": filters.q,
            "designer": filters.designer,
            "input": list(filters.inputs),
        }
        return cls(initial=initial, catalogue=catalogue)

    def clean_style(self) -> str:
        value = self.cleaned_data.get("style", "")
        return value if value and genapi.is_valid_id(value) else ""

    def clean_tool(self) -> str:
        value = self.cleaned_data.get("tool", "")
        return value if value and genapi.is_valid_id(value) else ""

    dates_swapped = False  # period() found From after To, and put them in order

    def period(self) -> tuple[str, date | None, date | None]:
        """The date range: a preset, or custom dates (dates alone mean custom, so they
        work from a form sent without JavaScript); reversed dates are put in order."""
        data = self.cleaned_data
        period, start, end = data.get("when") or "", data.get("from"), data.get("to")
        if period in ("", "custom") and (start or end):
            if start and end and start > end:
                start, end = end, start
                self.dates_swapped = True
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
            all_attempts=bool(data.get("attempts")),
            page=data.get("page") or 1,
            rating=data.get("rating") or "",
            reason=data.get("reason") or "",
            tool=data.get("tool") or "",
            q=" ".join((data.get("q") or "").replace("\x00", " ").split()),
            period=period,
            date_from=date_from,
            date_to=date_to,
            designer=data.get("designer") or "",
            inputs=data.get("input") or (),
        )


def designer_names() -> list[str]:
    """The usernames a designer filter offers: the team's active accounts."""
    users = get_user_model().objects.filter(is_active=True).order_by("username")
    return list(users.values_list("username", flat=True)[:200])
