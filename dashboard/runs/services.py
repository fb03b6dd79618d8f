"""Matrix runs: N images for one slot times M for the other, sent as N×M jobs by the
background worker, followed and retried as one set.

The web request only records the run and enqueues one task per cell
(dashboard/runs/tasks.py); a worker (`manage.py db_worker`, any number of them, on any
number of machines) sends each cell:

- paced: every worker takes its send times from one shared SendPacer row, at most
  RUN_SENDS_PER_MINUTE together, and a 429 pushes that row past its Retry-After;
- once: a cell is sent only by the worker whose conditional UPDATE moved it from
  QUEUED to SENDING for that attempt (the cell row is the idempotency record);
- recorded at once: the upstream id goes into a Job row in the transaction that marks
  the cell SENT, straight after the upstream answers.

A failure that surely reached nothing upstream (429, no connection) is tried again
later by the task itself; any other failure leaves the cell NOT_SENT with the reason,
for the designer's "Try again". The jobs' statuses come from the index, which the sync
process keeps current: following a run asks the upstream nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from django.utils import timezone

from dashboard import genapi
from dashboard.core import audit, storage, tokens
from dashboard.core.slots import Slot
from dashboard.index import services as index
from dashboard.jobs import services as jobs
from dashboard.library import services as library
from dashboard.live import events as live
from dashboard.models import InputImage, Job, Run, RunCell, SendPacer
from dashboard.runs import workers

if TYPE_CHECKING:
    from dashboard.core.catalogue import ToolChoice
    from dashboard.runs.forms import RunForm

logger = logging.getLogger("dashboard.runs")

# A cell's worker that has not answered for this long (after its claim) has died while
# the upstream was answering: the job may exist, so the cell is shown as failed (check
# History) and is never sent again without the designer asking.
STUCK_AFTER = timedelta(minutes=5)
# A task whose send time is further away than this gives the worker back and comes
# again then (after a long Retry-After), rather than holding the worker asleep.
LONGEST_WAIT_IN_TASK = 5.0
# A 429 without Retry-After, or an upstream that could not be reached: wait this long
# before the next send, doubling per try, up to the last figure.
BACKOFF_SECONDS = (2, 4, 8, 15, 30, 60, 60, 60, 60, 60)
PACER_NAME = "upstream"


class RunTooLarge(Exception):
    def __init__(self, count: int):
        self.count = count
        self.message = (
            f"That is {count} jobs; one run may send at most {settings.RUN_MAX_JOBS}. "
            "Choose fewer images, or split them into two runs."
        )
        super().__init__(self.message)


def start_run(
    designer,
    *,
    tool: genapi.Tool,
    style: genapi.Style | None,
    rows: tuple[Slot, list[InputImage]],
    columns: tuple[Slot, list[InputImage]] | None = None,
    name: str = "",
) -> Run:
    """Record the run and its cells, row i × column j, and enqueue one send per cell.

    Returns as soon as that is written: the worker sends the jobs. The tasks are enqueued
    after the transaction commits, so a worker never looks for a cell not yet written.
    """
    row_slot, row_images = rows
    column_slot, column_images = columns if columns else (None, [None])
    count = len(row_images) * len(column_images)
    if count > settings.RUN_MAX_JOBS:
        raise RunTooLarge(count)
    if not row_images or not column_images:
        raise ValueError("a run needs at least one image per slot")
    with transaction.atomic():
        run = Run.objects.create(
            designer=designer,
            designer_name=designer.get_username(),
            name=name,
            tool=tool.name,
            tool_title=tool.title,
            style_id=style.id if style else "",
            style_title=style.title if style else "",
            row_slot=row_slot.name,
            row_label=row_slot.label,
            column_slot=column_slot.name if column_slot else "",
            column_label=column_slot.label if column_slot else "",
        )
        cells = RunCell.objects.bulk_create(
            RunCell(run=run, row=i, column=j, row_image=row_image, column_image=column_image)
            for i, row_image in enumerate(row_images)
            for j, column_image in enumerate(column_images)
        )
        # Images a run will send are the library's now: never pruned as drafts meanwhile.
        library.file_in_library([*row_images, *(image for image in column_images if image)])
        if not all(cell.pk for cell in cells):  # backends that do not return ids
            cells = list(run.cells.all())
        transaction.on_commit(lambda: _enqueue([(cell.pk, cell.attempt) for cell in cells]))
    logger.info("run %s of %s jobs started by %s", run.pk, count, designer.pk)
    return run


def start_once(designer, token: str, **run) -> Run:
    """`start_run`, once per form token: a second send of the same form raises
    tokens.AlreadySent (naming the run the first one started) and starts nothing."""
    claim = tokens.claim(designer, token)
    try:
        started = start_run(designer, **run)
    except BaseException:
        claim.given_back()
        raise
    claim.fulfilled(run=started)
    return started


def start_from_form(designer, form: RunForm, choice: ToolChoice) -> Run | None:
    """Start the run a sent form asks for, once per form token; None when it cannot
    start, the form then saying why (its errors). tokens.AlreadySent for a form sent before."""
    valid = form.is_valid()
    if choice.tools_problem:
        form.add_error(None, f"{choice.tools_problem} No run was started; your images are kept.")
        return None
    if not valid:
        return None
    assert choice.tool is not None
    columns = (form.columns, form.chosen(form.columns)) if form.columns else None
    try:
        return start_once(
            designer,
            form.cleaned_data["submission"],
            tool=choice.tool,
            style=form.chosen_style,
            rows=(form.rows, form.chosen(form.rows)),
            columns=columns,
            name=form.cleaned_data["name"],
        )
    except RunTooLarge as exc:
        form.add_error(None, exc.message)
        return None


def _enqueue(
    cells: list[tuple[int, int]], *, tries: int = 0, run_after: datetime | None = None, reserved: bool = False
) -> None:
    """One send task per (cell, attempt). `reserved`: the task keeps the send time
    `run_after` it already took from the pacer, rather than taking another."""
    from dashboard.runs.backends import store_unreachable
    from dashboard.runs.tasks import send_cell

    task = send_cell.using(run_after=run_after) if run_after else send_cell
    reserved_at = run_after.isoformat() if reserved and run_after else ""
    for done, (cell_id, attempt) in enumerate(cells):
        try:
            result = task.enqueue(cell_id, attempt, tries, reserved_at)
        except store_unreachable() as exc:
            # The cells are recorded, queued and without a live task: a worker's tending
            # (revive, every beat) enqueues them once the store answers. Nothing is lost,
            # and the designer who started the run is answered now.
            logger.warning("the task store did not answer (%s): %s cells wait to be enqueued", exc, len(cells) - done)
            return
        RunCell.objects.filter(pk=cell_id, attempt=attempt).update(task_id=result.id)


def revive(living: set[str]) -> int:
    """Enqueue again the queued cells whose task will never run: it died with its worker
    (not among `living`, the workers still beating), or was lost. Sending twice is not a
    risk: a duplicate task finds the cell claimed. How many were enqueued again."""
    queued = RunCell.objects.filter(state=RunCell.State.QUEUED)
    seen_dead = {
        (cell.pk, cell.attempt, cell.task_id)
        for cell in queued.only("pk", "attempt", "task_id")
        if not _task_alive(cell.task_id, living)
    }
    # A task seen ended may have moved its cell on after the cells were read (sent it, or
    # put it off under a new task): an orphan is a cell still queued under the task seen.
    now_queued = queued.filter(pk__in=[pk for pk, _, _ in seen_dead]).values_list("pk", "attempt", "task_id")
    orphans = [(pk, attempt) for pk, attempt, task_id in now_queued if (pk, attempt, task_id) in seen_dead]
    if orphans:
        logger.warning("%s queued cells had lost their task (a worker died); enqueued again", len(orphans))
        _enqueue(orphans)
    return len(orphans)


def _task_alive(task_id: object, living: set[str]) -> bool:
    """Whether a cell's task will still run: waiting for a worker, or running on one
    that beats. Asked through the tasks API: the same for every backend."""
    from dashboard.runs.tasks import send_cell

    if not task_id:
        return False
    try:
        result = send_cell.get_result(str(task_id))
    except TaskResultDoesNotExist:
        return False
    if result.status == TaskResultStatus.READY:
        return True
    if result.status == TaskResultStatus.RUNNING:
        started = result.last_attempted_at or result.started_at
        if started is None:
            return True  # read as its worker took it (RQ's status is read apart from its times)
        if started < timezone.now() - STUCK_AFTER:
            return False  # no send takes this long: the worker lost it (its database failed mid-task)
        if started > timezone.now() - workers.dead_after():
            return True  # just taken: its worker may not have beaten yet
        return bool(result.worker_ids and result.worker_ids[-1] in living)
    return False  # it ended and the cell is still queued: a deferral whose next task was lost


def fail_cells_of_dead_workers(living: set[str]) -> int:
    """Cells a dead worker was sending: made upstream or not, nobody can tell (the API
    has no idempotency key), so never sent again by itself. Shown failed at once, saying
    so; "Try again" is the designer's. How many."""
    since = timezone.now() - workers.dead_after()
    stuck = RunCell.objects.filter(state=RunCell.State.SENDING, claimed_at__lt=since).exclude(claimed_by__in=living)
    run_ids = set(stuck.values_list("run_id", flat=True))
    count = stuck.update(state=RunCell.State.NOT_SENT, problem=STUCK_MESSAGE)
    for run_id in run_ids:
        live.run_changed(run_id)
    if count:
        logger.warning("%s cells were being sent by a worker that died; shown failed", count)
    return count


def cells(count: int) -> str:
    return f"{count} cell{'s' if count != 1 else ''}"


def cancel(run: Run, designer) -> int:
    """Stop a run: cells not yet sent never will be. How many were cancelled.

    A cell a worker is sending at this moment still completes; its job is kept."""
    with transaction.atomic():
        Run.objects.filter(pk=run.pk, cancelled_at__isnull=True).update(
            cancelled_at=timezone.now(), cancelled_by_name=designer.get_username()
        )
        cancelled = run.cells.filter(state=RunCell.State.QUEUED).update(state=RunCell.State.CANCELLED)
        if cancelled:
            audit.record(designer, audit.Action.CANCEL_RUN, run=run, detail=f"{cells(cancelled)} not sent")
        live.run_changed(run.pk)
    run.refresh_from_db()
    logger.info("run %s cancelled by %s: %s cells not sent", run.pk, designer.pk, cancelled)
    return cancelled


def rename(run: Run, designer, name: str) -> bool:
    """Give the run the name the designers will know it by ("" takes it away). Whether
    it changed."""
    if name == run.name:
        return False
    Run.objects.filter(pk=run.pk).update(name=name)
    audit.record(designer, audit.Action.NAME_RUN, run=run, detail=name)
    run.name = name
    index.run_renamed(run)
    logger.info("run %s renamed by %s", run.pk, designer.pk)
    return True


def retryable(run: Run):
    """The cells "Try again" sends anew: those whose job failed upstream, those the
    upstream did not take, and those whose worker stopped while sending."""
    stuck_before = timezone.now() - STUCK_AFTER
    return run.cells.filter(
        Q(state=RunCell.State.NOT_SENT)
        | Q(state=RunCell.State.SENT, job__status=Job.Status.ERROR)
        | Q(state=RunCell.State.SENDING, claimed_at__lt=stuck_before)
    )


def retry(run: Run, designer, cell_ids: list[int] | None = None) -> int:
    """Send failed cells again, each as a new attempt; how many were queued. Their
    failed jobs stay in History."""
    candidates = retryable(run)
    if cell_ids is not None:
        candidates = candidates.filter(pk__in=cell_ids)
    queued: list[tuple[int, int]] = []
    with transaction.atomic():
        for cell in candidates.select_related("job"):
            # Conditional, like a claim: two "Try again" presses make one new attempt.
            moved = RunCell.objects.filter(pk=cell.pk, attempt=cell.attempt, state=cell.state).update(
                state=RunCell.State.QUEUED,
                attempt=F("attempt") + 1,
                problem="",
                claimed_by="",
                claimed_at=None,
                sent_at=None,
                job=None,
            )
            if moved:
                queued.append((cell.pk, cell.attempt + 1))
                if cell.job is not None:  # the failed result's own trail says it was tried again
                    audit.record(designer, audit.Action.RETRY, cell.job.history_item_id, run=run)
        if queued:
            audit.record(designer, audit.Action.RETRY, run=run, detail=cells(len(queued)))
        transaction.on_commit(lambda: _enqueue(queued))
        live.run_changed(run.pk)
    logger.info("run %s: %s cells tried again by %s", run.pk, len(queued), designer.pk)
    return len(queued)


# --- Sending (in the worker) ----------------------------------------------------------


def send_interval() -> timedelta:
    return timedelta(seconds=60 / max(1, settings.RUN_SENDS_PER_MINUTE))


def reserve_send_time() -> datetime:
    """The next free send time, taken for the caller: every worker on every machine gets
    its own, one send interval apart (a compare-and-set on the pacer row)."""
    interval = send_interval()
    while True:
        now = timezone.now()
        pacer, _ = SendPacer.objects.get_or_create(name=PACER_NAME, defaults={"next_send_at": now})
        when = max(now, pacer.next_send_at)
        taken = SendPacer.objects.filter(pk=pacer.pk, next_send_at=pacer.next_send_at).update(
            next_send_at=when + interval
        )
        if taken:
            return when


def hold_sends_until(when: datetime) -> None:
    """No worker sends before `when` (the upstream asked us to wait)."""
    SendPacer.objects.get_or_create(name=PACER_NAME, defaults={"next_send_at": when})
    SendPacer.objects.filter(name=PACER_NAME, next_send_at__lt=when).update(next_send_at=when)


def claim(cell_id: int, attempt: int, worker: str) -> bool:
    """Take the cell for sending; True for exactly one caller per attempt, on any database.

    Cancelling moves QUEUED cells to CANCELLED in one UPDATE too, so a cell is either
    cancelled or sent, never both. (Trying a failed cell again after a cancel is the
    designer asking for that cell: it is sent.)"""
    return bool(
        RunCell.objects.filter(pk=cell_id, attempt=attempt, state=RunCell.State.QUEUED).update(
            state=RunCell.State.SENDING, claimed_by=worker[:64], claimed_at=timezone.now()
        )
    )


def _give_back(cell_id: int, attempt: int) -> None:
    RunCell.objects.filter(pk=cell_id, attempt=attempt, state=RunCell.State.SENDING).update(
        state=RunCell.State.QUEUED, claimed_by="", claimed_at=None
    )


def _not_sent(cell_id: int, attempt: int, problem: str) -> None:
    cell = RunCell.objects.filter(pk=cell_id, attempt=attempt, state=RunCell.State.SENDING)
    if cell.update(state=RunCell.State.NOT_SENT, problem=problem[:300]):
        live.run_changed(RunCell.objects.values_list("run_id", flat=True).get(pk=cell_id))


def send_cell(cell_id: int, attempt: int, tries: int = 0, reserved_at: str = "", *, worker: str = "") -> str:
    """Send one cell's job, at most once per attempt; what happened, in a word (for the
    task's result and the logs). `reserved_at`: the send time this task took earlier."""
    cells = RunCell.objects.select_related("run", "run__designer", "row_image", "column_image")
    cell = cells.filter(pk=cell_id).first()
    if cell is None or cell.attempt != attempt or cell.state != RunCell.State.QUEUED:
        return "skipped"
    if _deferred(cell_id, attempt, tries, reserved_at):
        return "deferred"
    if not claim(cell_id, attempt, worker or "worker"):
        return "skipped"
    run = cell.run
    inputs = [(Slot(run.row_slot, run.row_label), cell.row_image)]
    if cell.column_image is not None:
        inputs.append((Slot(run.column_slot, run.column_label), cell.column_image))
    style = genapi.Style(id=run.style_id, title=run.style_title, tool=run.tool) if run.style_id else None
    try:
        created = jobs.create_upstream(run.tool, inputs, style)
    except (genapi.GenApiError, OSError) as exc:
        return _not_made(cell, tries, exc)
    try:
        with transaction.atomic():
            job = jobs.remember_job(created, run.designer, run.tool, run.tool_title, inputs, style, run=run)
            RunCell.objects.filter(pk=cell_id, attempt=attempt).update(
                state=RunCell.State.SENT, job=job, sent_at=timezone.now()
            )
    except Exception:
        # The job exists (and is billed) upstream: its id must be findable in the logs.
        logger.exception("run %s cell %s: job %s was created upstream but not recorded", run.pk, cell_id, created)
        raise
    audit.record(run.designer, audit.Action.RUN, job.history_item_id)
    return "sent"


def _deferred(cell_id: int, attempt: int, tries: int, reserved_at: str) -> bool:
    """Wait for this task's send time (a short wait here), or give the worker back and
    come again then (a long one); whether it was put off."""
    when = datetime.fromisoformat(reserved_at) if reserved_at else reserve_send_time()
    wait = (when - timezone.now()).total_seconds()
    if wait > LONGEST_WAIT_IN_TASK:
        # The send time stays this task's: coming back for it must not take another one
        # (every waiting task would push the pace further out each time it came back).
        _enqueue([(cell_id, attempt)], tries=tries, run_after=when, reserved=True)
        return True
    if wait > 0:
        time.sleep(wait)
    return False


STORE_FAILED_MESSAGE = (
    "An input image could not be read from the image store, so the job was not sent. Try again sends it."
)


def _send_later(cell: RunCell, tries: int, later: datetime) -> None:
    _give_back(cell.pk, cell.attempt)
    _enqueue([(cell.pk, cell.attempt)], tries=tries + 1, run_after=later)


def _not_made(cell: RunCell, tries: int, error: genapi.GenApiError | OSError) -> str:
    """A claimed cell whose job was not made: sent again later when the upstream surely
    took nothing (busy, away), or the image store did not answer, and tries remain; else
    not sent, with the reason."""
    run = cell.run
    may_retry = tries + 1 < len(BACKOFF_SECONDS)
    if isinstance(error, genapi.RateLimited | genapi.UpstreamUnavailable):
        nothing_made = isinstance(error, genapi.RateLimited) or error.never_arrived
        if nothing_made and may_retry:
            pause = error.retry_after if isinstance(error, genapi.RateLimited) and error.retry_after else None
            later = timezone.now() + timedelta(seconds=pause or BACKOFF_SECONDS[tries])
            hold_sends_until(later)
            _send_later(cell, tries, later)
            logger.info("run %s cell %s: upstream busy or away, sending again at %s", run.pk, cell.pk, later)
            return "later"
    if isinstance(error, storage.StorageUnavailable) and may_retry:
        # Its inputs are still stored; the store is away for now: the cell waits for it.
        later = timezone.now() + timedelta(seconds=BACKOFF_SECONDS[tries])
        _send_later(cell, tries, later)
        logger.warning("run %s cell %s: the image store is not answering, sending again at %s", run.pk, cell.pk, later)
        return "later"
    if isinstance(error, OSError):
        logger.exception("run %s cell %s: an input could not be read", run.pk, cell.pk)
        _not_sent(cell.pk, cell.attempt, STORE_FAILED_MESSAGE)
        return "not sent"
    problem = error.message
    if isinstance(error, genapi.UpstreamRejected):
        problem = "; ".join(m for messages in error.field_errors.values() for m in messages) or error.message
    _not_sent(cell.pk, cell.attempt, problem)
    audit.record(run.designer, audit.Action.RUN, problem=problem)
    return "not sent"


# --- Following a run ------------------------------------------------------------------

WORKER_MISSING_MESSAGE = (
    "Nothing is being sent: the background worker that sends runs is stopped. "
    "The run is kept and goes on once it runs again; please tell an administrator."
)


def worker_missing(run: Run) -> bool:
    """Whether the run waits on a worker that is not there (cells queued, no worker beating)."""
    return run.cells.filter(state=RunCell.State.QUEUED).exists() and not workers.any_alive()


@dataclass(frozen=True)
class Progress:
    total: int
    queued: int
    sending: int
    running: int
    done: int
    failed: int
    cancelled: int
    eta_seconds: int | None
    # Of `failed`, those whose job was made and failed upstream (the rest were never sent).
    failed_after_sending: int = 0

    @property
    def sent(self) -> int:
        """Cells whose job the upstream took."""
        return self.running + self.done + self.failed_after_sending

    @property
    def finished(self) -> bool:
        return not (self.queued or self.sending or self.running)

    @property
    def percent_done(self) -> int:
        settled = self.done + self.failed + self.cancelled
        return round(100 * settled / self.total) if self.total else 100


def cell_status(cell: RunCell, now: datetime | None = None) -> str:
    """What a designer is told of a cell: queued, sending, running, done, failed or cancelled."""
    State = RunCell.State
    if cell.state == State.SENT and cell.job is not None:
        return {Job.Status.COMPLETE: "done", Job.Status.ERROR: "failed"}.get(Job.Status(cell.job.status), "running")
    if cell.state == State.SENT:  # the job's record was deleted with its result
        return "done"
    if cell.state == State.SENDING and cell.claimed_at and cell.claimed_at < (now or timezone.now()) - STUCK_AFTER:
        return "failed"
    shown = {State.QUEUED: "queued", State.SENDING: "sending", State.NOT_SENT: "failed"}
    return shown.get(State(cell.state), "cancelled")


STUCK_MESSAGE = (
    "The worker stopped while sending this job, so it may or may not have been made. Check History before trying again."
)


def cell_problem(cell: RunCell) -> str:
    if cell.state == RunCell.State.SENDING:
        return STUCK_MESSAGE
    if cell.job is not None and cell.job.status == Job.Status.ERROR:
        return cell.job.error_message or "The generation failed."
    return cell.problem


def progress(run: Run) -> Progress:
    """The run's counts and time left, from the database only."""
    now = timezone.now()
    cells = list(run.cells.select_related("job"))
    counts = {"queued": 0, "sending": 0, "running": 0, "done": 0, "failed": 0, "cancelled": 0}
    failed_after_sending = 0
    for cell in cells:
        status = cell_status(cell, now)
        counts[status] += 1
        failed_after_sending += status == "failed" and cell.state == RunCell.State.SENT
    return Progress(
        total=len(cells),
        eta_seconds=_time_left(run, cells, counts),
        failed_after_sending=failed_after_sending,
        **counts,
    )


def _time_left(run: Run, cells: list[RunCell], counts: dict[str, int]) -> int | None:
    """Seconds until the last cell is done: the sends still to make at the pace, plus a
    job's typical time (the median of this run's finished jobs, once any finished)."""
    if not (counts["queued"] or counts["sending"] or counts["running"]):
        return None
    took = sorted(
        (cell.job.finished_at - cell.sent_at).total_seconds()
        for cell in cells
        if cell.job is not None and cell.job.finished_at and cell.sent_at
    )
    if not took:
        return None
    typical = took[len(took) // 2]
    sends_left = counts["queued"] + counts["sending"]
    return max(1, round(sends_left * send_interval().total_seconds() + typical))


def cells_grid(run: Run) -> list[list[RunCell]]:
    """The run's cells as rows of columns, each with its job, for drawing the matrix."""
    grid: list[list[RunCell]] = []
    for cell in run.cells.select_related("job", "row_image", "column_image").order_by("row", "column"):
        if cell.row == len(grid):
            grid.append([])
        grid[-1].append(cell)
    return grid


def row_images(run: Run) -> list[InputImage]:
    return [cell.row_image for cell in run.cells.filter(column=0).select_related("row_image").order_by("row")]


def column_images(run: Run) -> list[InputImage]:
    cells = run.cells.filter(row=0).select_related("column_image").order_by("column")
    return [cell.column_image for cell in cells if cell.column_image is not None]


def current_results(run_id: int) -> list[tuple[str, int]]:
    """The run's current attempts in matrix order (row by row, column by column): each
    cell's latest job as (history item id, cell pk); cells without one (queued, not sent)
    left out, as are the jobs of attempts tried again since. One query (≤ RUN_MAX_JOBS)."""
    cells = RunCell.objects.filter(run_id=run_id, job__isnull=False).order_by("row", "column")
    return list(cells.values_list("job__history_item_id", "pk"))


def current_item_ids(run_id: int):
    """The history item ids of the run's current attempts, as a subquery."""
    return RunCell.objects.filter(run_id=run_id, job__isnull=False).values("job__history_item_id")


def cell_of(run_id: int, item_id: str) -> int | None:
    """The pk of the run's cell whose latest job made this result, if any."""
    return RunCell.objects.filter(run_id=run_id, job__history_item_id=item_id).values_list("pk", flat=True).first()
