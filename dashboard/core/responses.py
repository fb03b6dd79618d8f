"""How every view answers: the whole page or the fragment htmx asked for, and what an
action tells the designer.

A view binds its form, calls its feature's service and hands the result here:

- `render_page` draws a template whole, or the `{% partialdef %}` fragment that htmx
  asks to swap (by the id of the element it targets);
- `answer_change` finishes a POST: with htmx it draws the fragment that changed, with
  the `Notice` in its context; without JavaScript the notice becomes a message and the
  browser is sent on (303 See Other) to the page that shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django_htmx.http import push_url

from dashboard import genapi
from dashboard.core.http import HtmxHttpRequest, wants_fragment

Level = Literal["ok", "info", "warning", "error"]
MESSAGE_LEVELS = {"ok": messages.SUCCESS, "info": messages.INFO, "warning": messages.WARNING, "error": messages.ERROR}


@dataclass(frozen=True)
class Notice:
    """What an action tells the designer: one sentence, how it went, and for an action
    on several results the ones that failed, as (result id, why)."""

    text: str
    level: Level = "ok"
    failures: tuple[tuple[str, str], ...] = ()

    @property
    def is_error(self) -> bool:
        return self.level == "error"

    @property
    def reasons(self) -> list[str]:
        """Each distinct reason for the failures, once."""
        return sorted({reason for _, reason in self.failures})

    def tell(self, request: HtmxHttpRequest) -> None:
        """Say it on the next page drawn (a page after a redirect, without JavaScript)."""
        messages.add_message(request, MESSAGE_LEVELS[self.level], " ".join([self.text, *self.reasons]))


def upstream_message(error: genapi.GenApiError) -> str:
    """The sentence a designer sees for an upstream failure."""
    if isinstance(error, genapi.RateLimited) and error.retry_after:
        seconds = max(1, round(error.retry_after))
        return f"{error.message} (try again in about {seconds} second{'s' if seconds != 1 else ''})"
    return error.message


def see_other(url: str) -> HttpResponse:
    """A 303 after a POST: the browser GETs `url`, and reloading it sends nothing again."""
    return HttpResponseRedirect(url, status=303)


def render_page(
    request: HtmxHttpRequest,
    template: str,
    context: Mapping[str, Any],
    *,
    fragments: Mapping[str, str] | None = None,
    status: int = 200,
    canonical_url: str | None = None,
    notices: Sequence[Notice] = (),
) -> HttpResponse:
    """`template` whole; or, when htmx targets one of `fragments`' element ids, the
    partial named for it (a back-button restore always gets the page). With
    `canonical_url`, a fragment also sets the browser's address to it. `notices` are
    said at the top of the page drawn."""
    for notice in notices:
        notice.tell(request)
    for target, partial in (fragments or {}).items():
        if wants_fragment(request, target):
            response = render(request, f"{template}#{partial}", context, status=status)
            return push_url(response, canonical_url) if canonical_url else response
    return render(request, template, context, status=status)


def answer_change(
    request: HtmxHttpRequest,
    notice: Notice | None,
    *,
    fragment: str,
    context: Callable[[], Mapping[str, Any]],
    redirect_to: str,
) -> HttpResponse:
    """After a POST: with htmx, `fragment` drawn with the notice (`context` is called only
    then); without JavaScript, the notice as a message on the page `redirect_to` leads to."""
    if not request.htmx:
        if notice is not None:
            notice.tell(request)
        return see_other(redirect_to)
    return render(request, fragment, {**context(), "notice": notice})
