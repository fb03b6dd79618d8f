"""The audit trail: who ran, rated or deleted which result, and when.

`record` is called by the code that performs an action (dashboard/jobs/services.py), once the
upstream has answered, with the outcome; `recent` reads a result's trail as sentences
for its lightbox ("ada liked it").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from dashboard import genapi
from dashboard.models import AuditEntry

Action = AuditEntry.Action
# Who did it, for what the dashboard does by itself (`manage.py purge_trash`).
AUTOMATIC = "the trash clean-up"
RECENT = 10

# What the designer did, read from the result's side; and when it failed, what they tried.
DONE = {
    Action.RUN: "sent it",
    Action.RERUN: "sent it again from an earlier result",
    Action.LIKE: "liked it",
    Action.DISLIKE: "disliked it",
    Action.CLEAR: "cleared its rating",
    Action.REASONS: "gave the reasons",
    Action.NOTE: "wrote the note",
    Action.TRASH: "moved it to the trash",
    Action.RESTORE: "restored it from the trash",
    Action.DELETE: "deleted it for good",
    Action.CANCEL_RUN: "cancelled the run",
    Action.RETRY: "tried it again",
    Action.NAME_RUN: "named the run",
}
TRIED = {
    Action.RUN: "tried to send it",
    Action.RERUN: "tried to run it again",
    Action.LIKE: "tried to like it",
    Action.DISLIKE: "tried to dislike it",
    Action.CLEAR: "tried to clear its rating",
    Action.REASONS: "tried to give reasons",
    Action.NOTE: "tried to write a note",
    Action.TRASH: "tried to move it to the trash",
    Action.RESTORE: "tried to restore it",
    Action.DELETE: "tried to delete it for good",
    Action.CANCEL_RUN: "tried to cancel the run",
    Action.RETRY: "tried to try it again",
    Action.NAME_RUN: "tried to name the run",
}
# Actions whose entry keeps what was said (reasons, a note), shown after the sentence.
SAYS = {Action.REASONS, Action.NOTE, Action.CANCEL_RUN}


def record(
    actor,
    action: str,
    item_id: str = "",
    *,
    source_item_id: str = "",
    bulk: bool = False,
    problem: str | None = None,
    detail: str = "",
    run=None,
) -> AuditEntry | None:
    """Write down one action and its outcome (`problem` is the failure, if any; `detail`
    what a successful one said, such as a note; `run` the run it was done to).

    An id no result can have (refused before any upstream call) names nothing to record.
    `actor` None is the dashboard itself (the trash emptied after TRASH_DAYS by cron)."""
    if any(value and not genapi.is_valid_id(value) for value in (item_id, source_item_id)):
        return None
    return AuditEntry.objects.create(
        actor=actor,
        actor_name=actor.get_username() if actor else AUTOMATIC,
        action=action,
        history_item_id=item_id or "",
        source_item_id=source_item_id or "",
        run=run,
        bulk=bulk,
        succeeded=problem is None,
        detail=(problem or detail or "")[:300],
    )


@dataclass(frozen=True)
class Line:
    text: str
    at: datetime


def sentence(entry: AuditEntry, item_id: str) -> str:
    if entry.action == Action.RERUN and entry.source_item_id == item_id:
        done, tried = "ran it again", "tried to run it again"
    else:
        action = Action(entry.action)
        done, tried = DONE[action], TRIED[action]
    text = f"{entry.actor_name} {done if entry.succeeded else tried}"
    if entry.succeeded and entry.action in SAYS and entry.detail:
        text += f": {entry.detail}"
    if entry.bulk:
        text += " (with others selected)"
    if not entry.succeeded:
        text += f", but it failed: {entry.detail}" if entry.detail else ", but it failed"
    return text


def of_run(run, limit: int = RECENT) -> list[Line]:
    """The latest actions on a run as a whole (cancelled, cells tried again), newest first."""
    # The run's own entries; each failed result tried again also has one, told in its lightbox.
    entries = AuditEntry.objects.filter(
        run=run, history_item_id="", action__in=[Action.CANCEL_RUN, Action.RETRY, Action.NAME_RUN]
    )
    entries = entries[:limit]
    return [Line(text=run_sentence(entry), at=entry.created_at) for entry in entries]


def run_sentence(entry: AuditEntry) -> str:
    if entry.action == Action.CANCEL_RUN:
        return f"{entry.actor_name} cancelled the run" + (f": {entry.detail}" if entry.detail else "")
    if entry.action == Action.NAME_RUN:
        return (
            f"{entry.actor_name} named the run “{entry.detail}”"
            if entry.detail
            else f"{entry.actor_name} took the run's name away"
        )
    return f"{entry.actor_name} tried {entry.detail or 'cells'} again"


def recent(item_id: str, limit: int = RECENT) -> list[Line]:
    """The latest actions on one result, newest first."""
    if not genapi.is_valid_id(item_id):
        # No entry can name it, and PostgreSQL refuses some such strings (a NUL: a 500).
        return []
    entries = AuditEntry.objects.filter(Q(history_item_id=item_id) | Q(source_item_id=item_id))[:limit]
    return [Line(text=sentence(entry, item_id), at=entry.created_at) for entry in entries]
