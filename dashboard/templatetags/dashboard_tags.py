from datetime import datetime

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from dashboard.core import display, jobs
from dashboard.gallery.history import url_for_item
from dashboard.library import services as library

register = template.Library()


@register.simple_tag
def when(value: datetime | None) -> str:
    """A moment as designers read it everywhere: its age, the exact time on hover."""
    if value is None:
        return ""
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', value.isoformat(), display.exact_time(value), display.age(value)
    )


@register.simple_tag
def one_time_token() -> str:
    """A fresh token for a form that sends a job: sent twice, it sends once."""
    return jobs.new_token()


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


def _feedback_button(
    url: str, icons: str, value: str, name: str, title: str, key: str, pressed: bool, panel: bool
) -> str:
    on_class = (" is-on is-off-vote" if value == "false" else " is-on") if pressed else ""
    vals = f'{{"like":"{value}","panel":"review"}}' if panel else f'{{"like":"{value}"}}'
    # Pressing the rating already shown clears it: the title says so.
    hint = f"Clear the {name}" if pressed else title
    return (
        f'<button form="action-form" formaction="{url}" name="like" value="{value}" hx-post="{url}" '
        f"hx-vals='{vals}' class=\"icon-button{on_class}\" "
        f'aria-pressed="{"true" if pressed else "false"}" data-feedback="{name}" title="{hint} ({key})">'
        f'<svg aria-hidden="true"><use href="{icons}#{name}"/></svg>'
        f'<span class="visually-hidden">{title}</span></button>'
    )


@register.simple_tag(takes_context=True)
def feedback_buttons(context, item_id: str, like: bool | None, problem: str = "", panel: bool = False) -> str:
    """Like and dislike for one result, the same everywhere it appears (tray, grid,
    lightbox, and the fragment the feedback view returns). Built in Python because the
    grid draws it for every card and a template include per card is measurably slower.

    The buttons submit through the page's one form (#action-form) without JavaScript;
    with htmx they post alone and the group replaces itself with the stored state (with
    `panel`, in the lightbox, the whole review panel does: a dislike opens its reasons).
    """
    url = escape(url_for_item("feedback", str(item_id)))
    icons = escape(context.get("icons_url", ""))
    like_button = _feedback_button(url, icons, "true", "like", "Like", "L", like is True, panel)
    dislike_button = _feedback_button(url, icons, "false", "dislike", "Dislike", "D", like is False, panel)
    target = "closest [data-review]" if panel else "this"
    alert = f'<p class="field-error" role="alert">{escape(problem)}</p>' if problem else ""
    return mark_safe(  # every value above is escaped or fixed text
        f'<div class="feedback" role="group" aria-label="Your rating" hx-target="{target}" hx-swap="outerHTML" '
        f'hx-push-url="false">{like_button}{dislike_button}{alert}</div>'
    )
