"""Acting on one result: its rating (like / dislike, pressed again to clear), the
reasons for a dislike, and a note."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dashboard import genapi
from dashboard.core import audit
from dashboard.core.http import HtmxHttpRequest, is_local_path, upstream_message
from dashboard.models import Review
from dashboard.reviews import services as reviews


def safe_next(request: HtmxHttpRequest, fallback: str = "/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    return target if is_local_path(request, target) else fallback


def review_context(item_id: str, like: bool | None, review: Review | None, problem: str | None = None) -> dict:
    """What the lightbox's review panel shows (reviews/review.html#review), its activity included:
    each change redraws the panel, and the line it added shows at once."""
    chosen = set(review.reason_codes) if review else set()
    return {
        "item_id": item_id,
        "like": like,
        "review": review,
        "feedback_problem": problem,
        "activity": audit.recent(item_id),
        "reasons": [(code, label, reviews.REASON_KEYS[code], code in chosen) for code, label in reviews.Reason.choices],
    }


@require_POST
def feedback(request: HtmxHttpRequest, item_id: str) -> HttpResponse:
    """Like or dislike (the one already shown clears it); the buttons then show the stored
    state, re-read after the change. From the lightbox the whole review panel comes back."""
    choice = request.POST.get("like")
    problem = None
    like = None
    if choice not in ("true", "false"):
        problem = "Choose like or dislike."
    else:
        try:
            reviews.rate(request.user, item_id, choice == "true", toggle=True)
            like = reviews.like_shown(genapi.item(item_id).like, reviews.review_of(item_id))
        except genapi.NotFound:
            problem = "This result no longer exists."
        except genapi.GenApiError as exc:
            problem = upstream_message(exc)
            known = genapi.known_item(item_id)
            like = reviews.like_shown(known.like, reviews.review_of(item_id)) if known else None
    if not request.htmx:
        if problem:
            messages.error(request, problem)  # said on the page the redirect leads to
        return redirect(safe_next(request))
    if request.POST.get("panel") == "review":
        context = review_context(item_id, like, reviews.review_of(item_id), problem)
        return render(request, "reviews/review.html#review", context)
    return render(
        request, "reviews/review.html#feedback", {"item_id": item_id, "like": like, "feedback_problem": problem}
    )


@require_POST
def review(request: HtmxHttpRequest, item_id: str) -> HttpResponse:
    """One dislike reason toggled (`reason`), or the note saved (`note`)."""
    problem = None
    like = None
    try:
        like = genapi.item(item_id).like  # the result must exist; and the panel shows it
    except genapi.NotFound:
        problem = "This result no longer exists."
    except genapi.GenApiError as exc:
        problem = upstream_message(exc)
    reason = request.POST.get("reason")
    if problem is None:
        if reason in reviews.Reason.values:
            reviews.toggle_reason(request.user, item_id, reason)
        elif "note" in request.POST:
            reviews.save_note(request.user, item_id, request.POST["note"])
        else:
            problem = "Choose a reason or write a note."
    if not request.htmx:
        if problem:
            messages.error(request, problem)
        return redirect(safe_next(request))
    found = reviews.review_of(item_id) if genapi.is_valid_id(item_id) else None
    return render(
        request, "reviews/review.html#review", review_context(item_id, reviews.like_shown(like, found), found, problem)
    )
