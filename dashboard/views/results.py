"""Acting on one result: feedback (like / dislike)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from dashboard import genapi
from dashboard.views.common import HtmxHttpRequest, upstream_message


def safe_next(request: HtmxHttpRequest, fallback: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    # A path on this site only: `redirect()` would take any other word for a view name
    # (NoReverseMatch, a 500 for `?next=abc`).
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


@require_POST
def feedback(request: HtmxHttpRequest, item_id: str) -> HttpResponse:
    """Like or dislike; the buttons then show what the upstream stored, re-read after the change."""
    choice = request.POST.get("like")
    problem = None
    like = None
    if choice not in ("true", "false"):
        problem = "Choose like or dislike."
    else:
        api = genapi.client()
        try:
            api.set_feedback(item_id, choice == "true")
            item = api.history_item(item_id)
            genapi.remember_items([item])
            like = item.like
        except genapi.NotFound:
            problem = "This result no longer exists."
        except genapi.GenApiError as exc:
            problem = upstream_message(exc)
            cached = genapi.peek_item(item_id)
            like = cached.like if cached else None
    if not request.htmx:
        if problem:
            messages.error(request, problem)  # said on the page the redirect leads to
        return redirect(safe_next(request))
    return render(request, "results.html#feedback", {"item_id": item_id, "like": like, "feedback_problem": problem})
