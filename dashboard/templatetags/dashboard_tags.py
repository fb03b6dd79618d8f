from dataclasses import dataclass
from datetime import datetime

from django import template

from dashboard.core import display, tokens
from dashboard.gallery.history import url_for_item
from dashboard.library import services as library

register = template.Library()


@register.inclusion_tag("core/when.html")
def when(value: datetime | None) -> dict:
    """A moment as designers read it everywhere: its age, the exact time on hover."""
    if value is None:
        return {}
    return {"iso": value.isoformat(), "exact": display.exact_time(value), "age": display.age(value)}


@register.simple_tag
def one_time_token() -> str:
    """A fresh token for a form that sends a job: sent twice, it sends once."""
    return tokens.new()


@register.filter
def elapsed(value: datetime | None) -> str:
    return display.elapsed(value)


@register.filter
def size(num_bytes: int) -> str:
    return display.describe_size(num_bytes)


@register.filter
def kind_label(kind: str) -> str:
    """A library kind as designers read it: "clothes" → "Garment"."""
    return library.kind_label(kind)


@dataclass(frozen=True)
class FeedbackButton:
    value: str  # the `like` it posts
    name: str
    title: str
    key: str  # its key in the lightbox
    pressed: bool


@register.inclusion_tag("reviews/feedback_buttons.html", takes_context=True)
def feedback_buttons(context, item_id: str, like: bool | None, problem: str = "", panel: bool = False) -> dict:
    """Like and dislike for one result (reviews/feedback_buttons.html); `panel` in the
    lightbox's review panel."""
    return {
        "url": url_for_item("feedback", str(item_id)),
        "icons_url": context.get("icons_url", ""),
        "panel": panel,
        "problem": problem,
        "buttons": (
            FeedbackButton("true", "like", "Like", "L", like is True),
            FeedbackButton("false", "dislike", "Dislike", "D", like is False),
        ),
    }
