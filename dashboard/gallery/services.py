"""Acting on results from the gallery: one moved to the trash (with an Undo), several
liked, disliked or moved at once. The rules are the trash's and the reviews'; this says
what came of them."""

from __future__ import annotations

from dataclasses import dataclass, field

from dashboard import genapi
from dashboard.core import concurrency
from dashboard.core.responses import Notice, upstream_message
from dashboard.reviews import services as reviews
from dashboard.trash import services as trash

BULK_ACTIONS = {"like": "liked", "dislike": "disliked", "delete": "moved to the trash"}
MAX_BULK_ITEMS = 100


@dataclass
class Acted:
    """What an action came to: what to say, and the results the Undo can bring back."""

    notice: Notice | None
    undo_ids: list[str] = field(default_factory=list)
    skipped: bool = False

    @property
    def said_without_javascript(self) -> Notice | None:
        """The notice for a page drawn after a redirect: the Undo toast there already says
        what was moved, so only what went wrong or was left alone is said again."""
        if self.notice is None or (self.undo_ids and not self.notice.is_error and not self.skipped):
            return None
        return self.notice


def delete_one(designer, item_id: str, title: str = "") -> Acted:
    try:
        if trash.move_to_trash(designer, item_id, title=title):
            return Acted(notice=None, undo_ids=[item_id])
    except genapi.GenApiError as exc:
        return Acted(Notice(f"Could not delete it: {upstream_message(exc)}", "error"))
    return Acted(Notice("It was already deleted."))


def restore_one(designer, item_id: str) -> bool:
    """The lightbox's Undo: the result out of the trash (False when it was not there)."""
    return trash.restore(designer, item_id)


def failure_text(failure: genapi.GenApiError | concurrency.Late) -> str:
    return upstream_message(failure) if isinstance(failure, genapi.GenApiError) else concurrency.LATE_MESSAGE


def act_on_many(designer, action: str | None, item_ids: list[str]) -> Acted:
    """Like, dislike or delete several results; failures are listed, the rest stand done."""
    ids = list(dict.fromkeys(item_ids))[:MAX_BULK_ITEMS]
    if action not in BULK_ACTIONS or not ids:
        return Acted(Notice("Select at least one result and an action.", "error"))
    if action == "delete":
        outcome = trash.move_many(designer, ids)
    else:
        outcome = reviews.rate_many(designer, ids, like=action == "like")
    undo_ids = outcome.done if action == "delete" else []
    summary = f"{len(outcome.done) + len(outcome.already)} {BULK_ACTIONS[action]}"
    if outcome.skipped:
        summary += f"; {len(outcome.skipped)} skipped: {', '.join(dict.fromkeys(outcome.skipped))}"
    if outcome.failed:
        failures = tuple((item_id, failure_text(failure)) for item_id, failure in outcome.failed)
        notice = Notice(f"{summary}; {len(failures)} failed.", "error", failures)
    else:
        notice = Notice(f"{summary}.")
    return Acted(notice, undo_ids, skipped=bool(outcome.skipped))
