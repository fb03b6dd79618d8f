"""Acting on one result: feedback (like / dislike)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dashboard import genapi, jobs
from dashboard.views.common import HtmxHttpRequest, is_local_path, upstream_message


def safe_next(request: HtmxHttpRequest, fallback: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    return target if is_local_path(request, target) else fallback


@require_POST
def feedback(request: HtmxHttpRequest, item_id: str) -> HttpResponse:
    """Like or dislike; the buttons then show what the upstream stored, re-read after the change."""
    choice = request.POST.get("like")
    problem = None
    like = None
    if choice not in ("true", "false"):
        problem = "Choose like or dislike."
    else:
        try:
            jobs.rate(request.user, item_id, choice == "true")
            like = genapi.item(item_id).like
        except genapi.NotFound:
            problem = "This result no longer exists."
        except genapi.GenApiError as exc:
            problem = upstream_message(exc)
            known = genapi.known_item(item_id)
            like = known.like if known else None
    if not request.htmx:
        if problem:
            messages.error(request, problem)  # said on the page the redirect leads to
        return redirect(safe_next(request))
    return render(request, "results.html#feedback", {"item_id": item_id, "like": like, "feedback_problem": problem})
