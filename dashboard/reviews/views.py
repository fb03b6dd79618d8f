"""Acting on one result: its rating (like / dislike, pressed again to clear), the
reasons for a dislike, and a note."""

from __future__ import annotations

from django.http import HttpResponse
from django.views.decorators.http import require_POST

from dashboard import genapi
from dashboard.core.http import HtmxHttpRequest, safe_next
from dashboard.core.responses import Notice, answer_change
from dashboard.reviews import services as reviews

PAGE = "reviews/review.html"


def problem_notice(rated: reviews.Rated) -> Notice | None:
    return Notice(rated.problem, "error") if rated.problem else None


@require_POST
def feedback(request: HtmxHttpRequest, item_id: str) -> HttpResponse:
    """Like or dislike (the one already shown clears it); the buttons then show the stored
    state. From the lightbox the whole review panel comes back, else the buttons."""
    rated = reviews.press(request.user, item_id, request.POST.get("like"))
    if request.POST.get("panel") == "review":
        fragment = f"{PAGE}#review"

        def context():
            return reviews.review_panel(item_id, rated.like, reviews.review_of(item_id), rated.problem)

    else:
        fragment = f"{PAGE}#feedback"

        def context():
            return {"item_id": item_id, "like": rated.like, "feedback_problem": rated.problem}

    return answer_change(
        request, problem_notice(rated), fragment=fragment, context=context, redirect_to=safe_next(request)
    )


@require_POST
def review(request: HtmxHttpRequest, item_id: str) -> HttpResponse:
    """One dislike reason toggled (`reason`), or the note saved (`note`)."""
    rated = reviews.revise(request.user, item_id, reason=request.POST.get("reason"), note=request.POST.get("note"))

    def context():
        found = reviews.review_of(item_id) if genapi.is_valid_id(item_id) else None
        return reviews.review_panel(item_id, rated.like, found, rated.problem)

    return answer_change(
        request, problem_notice(rated), fragment=f"{PAGE}#review", context=context, redirect_to=safe_next(request)
    )
