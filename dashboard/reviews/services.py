"""Reviewing results: ratings (with clearing, which the upstream cannot store), dislike
reasons and notes. Every change is recorded in the audit trail by the function making it.

The upstream keeps one like per result, true or false, for the whole team; the dashboard
keeps the rest in one `Review` row per result (see its docstring for a cleared rating).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from dashboard import genapi
from dashboard.core import audit, concurrency
from dashboard.core.catalogue import catalogue
from dashboard.core.responses import upstream_message
from dashboard.index import services as index
from dashboard.models import IndexedResult, Review
from dashboard.reviews.forms import NOTE_MAX_CHARS, NoteForm

Reason = Review.Reason
# One key per reason in the lightbox, in the order they are listed.
REASON_KEYS = {code: str(number) for number, code in enumerate(Reason.values, start=1)}


def reviews_of(item_ids: Iterable[str]) -> dict[str, Review]:
    return {review.history_item_id: review for review in Review.objects.filter(history_item_id__in=list(item_ids))}


def review_of(item_id: str) -> Review | None:
    return Review.objects.filter(history_item_id=item_id).first()


def like_shown(upstream_like: bool | None, review: Review | None) -> bool | None:
    """The rating a designer sees: the upstream's, unless the dashboard cleared it."""
    return review.like_shown(upstream_like) if review else upstream_like


def _mark_rated(item_id: str, designer, **changes) -> Review:
    review, _ = Review.objects.get_or_create(history_item_id=item_id)
    for name, value in changes.items():
        setattr(review, name, value)
    review.rated_by, review.rated_by_name, review.rated_at = designer, designer.get_username(), timezone.now()
    review.save()
    index.review_changed(item_id)
    return review


def rate(designer, item_id: str, like: bool, *, bulk: bool = False, toggle: bool = False) -> bool | None:
    """Like or dislike a result, and record who did (and whether it worked); the rating
    it now shows.

    With `toggle` (one result's buttons), pressing the rating it already shows clears it;
    bulk actions set the rating whatever it was. A new rating forgets earlier reasons.
    """
    action = audit.Action.LIKE if like else audit.Action.DISLIKE
    try:
        if toggle:
            # Pressed against the rating the page showed: the index's (not the cache's, which
            # a listing asked before a change here and answered after it can set back).
            row = index.find(item_id)
            if row is None:
                raise genapi.NotFound()
            upstream_like = row.like
            if like_shown(upstream_like, review_of(item_id)) is like:
                _mark_rated(item_id, designer, cleared=True, like_when_cleared=upstream_like, reasons="")
                audit.record(designer, audit.Action.CLEAR, item_id)
                return None
        genapi.set_like(item_id, like)
    except genapi.GenApiError as exc:
        audit.record(designer, action, item_id, bulk=bulk, problem=exc.message)
        raise
    _mark_rated(item_id, designer, cleared=False, like_when_cleared=None, reasons="")
    index.record_like(item_id, like)
    audit.record(designer, action, item_id, bulk=bulk)
    return like


@dataclass(frozen=True)
class Rated:
    """A result's rating as shown after a change, and why the change was not made (if not)."""

    like: bool | None
    problem: str | None = None


def press(designer, item_id: str, choice: str | None) -> Rated:
    """A like or dislike button pressed (`choice` "true" or "false"); the one already
    shown clears it. The rating shown is re-read after the change."""
    if choice not in ("true", "false"):
        return Rated(like=None, problem="Choose like or dislike.")
    try:
        rate(designer, item_id, choice == "true", toggle=True)
        return Rated(like=shown_now(item_id))
    except genapi.NotFound:
        return Rated(like=None, problem="This result no longer exists.")
    except genapi.GenApiError as exc:
        known = genapi.known_item(item_id)
        return Rated(like=like_shown(known.like, review_of(item_id)) if known else None, problem=upstream_message(exc))


def revise(designer, item_id: str, *, reason: str | None, note: str | None) -> Rated:
    """One dislike reason toggled, or the note saved, on a result that exists."""
    try:
        like = genapi.item(item_id).like  # the result must exist; and the panel shows it
    except genapi.NotFound:
        return Rated(like=None, problem="This result no longer exists.")
    except genapi.GenApiError as exc:
        return Rated(like=None, problem=upstream_message(exc))
    if reason in Reason.values:
        toggle_reason(designer, item_id, reason)
    elif note is not None:
        save_note(designer, item_id, note)
    else:
        return Rated(like=like_shown(like, review_of(item_id)), problem="Choose a reason or write a note.")
    return Rated(like=like_shown(like, review_of(item_id)))


def shown_now(item_id: str) -> bool | None:
    """The rating a result shows, as the index now holds it."""
    row = IndexedResult.objects.filter(history_item_id=item_id).values_list("rating", flat=True).first()
    return index.like_of(row) if row else None


def unratable(item: genapi.HistoryItem) -> str:
    """Why a result cannot be liked or disliked, or "" when it can: only finished images are rated."""
    if item.is_error:
        return "failed results cannot be rated"
    if item.is_pending:
        return "running results cannot be rated until they finish"
    return ""


def rate_many(designer, item_ids: list[str], like: bool) -> concurrency.Many:
    """Like or dislike several results (finished ones only; the others are skipped), the
    upstream asked a few at a time (core.concurrency); each rating and each failure then
    recorded as `rate` records one."""

    def upstream(item_id: str) -> str | genapi.GenApiError | genapi.HistoryItem:
        try:
            if reason := unratable(genapi.item(item_id)):
                return reason
            genapi.set_like(item_id, like)
            return genapi.item(item_id, fresh=True)  # what it stores now (its answer to the rating says nothing)
        except genapi.GenApiError as exc:
            return exc

    action = audit.Action.LIKE if like else audit.Action.DISLIKE
    outcome = concurrency.Many()
    confirmed: list[genapi.HistoryItem] = []
    for item_id, answer in concurrency.each(upstream, item_ids).items():
        if isinstance(answer, genapi.GenApiError | concurrency.Late):
            outcome.failed.append((item_id, answer))
            audit.record(designer, action, item_id, bulk=True, problem=concurrency.problem(answer))
        elif isinstance(answer, str):
            outcome.skipped.append(answer)
        else:
            confirmed.append(answer)
            _mark_rated(item_id, designer, cleared=False, like_when_cleared=None, reasons="")
            audit.record(designer, action, item_id, bulk=True)
            outcome.done.append(item_id)
    index.record_seen(confirmed, catalogue())
    for item_id in outcome.done:
        index.review_changed(item_id)
    return outcome


def toggle_reason(designer, item_id: str, code: str) -> Review:
    """Add or take away one dislike reason (a disliked result's only); recorded as the
    full list it leaves."""
    review = review_of(item_id) or Review(history_item_id=item_id)
    codes = set(review.reason_codes)
    codes.symmetric_difference_update({code})
    review.set_reasons(codes)
    review.save()
    index.review_changed(item_id)
    audit.record(designer, audit.Action.REASONS, item_id, detail=reason_labels(review) or "none")
    return review


def save_note(designer, item_id: str, note: str) -> Review:
    review = review_of(item_id) or Review(history_item_id=item_id)
    # NUL cannot be stored by PostgreSQL, and is nothing a designer typed.
    review.note = note.replace("\x00", "").strip()[:NOTE_MAX_CHARS]
    review.save()
    index.review_changed(item_id)
    audit.record(designer, audit.Action.NOTE, item_id, detail=review.note or "(note removed)")
    return review


def reason_labels(review: Review | None) -> str:
    labels = dict(Reason.choices)
    return ", ".join(labels[code] for code in (review.reason_codes if review else []) if code in labels)


def review_panel(item_id: str, like: bool | None, review: Review | None, problem: str | None = None) -> dict:
    """What the lightbox's review panel shows (reviews/review.html#review), its activity included:
    each change redraws the panel, and the line it added shows at once."""
    chosen = set(review.reason_codes) if review else set()
    return {
        "item_id": item_id,
        "like": like,
        "review": review,
        # Which of two drawings of the panel is newer (gallery.js: news asked before a
        # change and answered after it must not draw the review back as it was).
        "review_version": int(review.updated_at.timestamp() * 1_000_000) if review else 0,
        "feedback_problem": problem,
        "activity": audit.recent(item_id),
        "note_form": NoteForm(initial={"note": review.note if review else ""}, item_id=item_id),
        "reasons": [(code, label, REASON_KEYS[code], code in chosen) for code, label in Reason.choices],
    }
