"""Matrix runs sent by real background workers (`manage.py run_worker` subprocesses) to the
real simulator: paced, under its rate limit, each cell sent once, cancellable.

Counted from the simulator's own access log: what reached the upstream, not what the
dashboard believes it sent.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from dashboard import genapi
from dashboard.core.slots import slots_for
from dashboard.models import Job, RunCell
from dashboard.runs import services as runs
from tests.support import tasks
from tests.support.library import library_image
from tests.support.waiting import wait_until
from tests.support.worker import WorkerProcess

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres_redis,
    pytest.mark.tasks_rq,
]

FASHION_SWAP = genapi.Tool(name="fashion_swap", title="Fashion Swap", group="fashion")
GARMENT, MODEL = slots_for("fashion_swap", "fashion")


@pytest.fixture
def designer(ada, on_simulator):
    """Ada, logged in nowhere (the run engine is called directly), with Django on the simulator."""
    return ada


def start(designer, garments: int, models: int):
    rows = [library_image(designer, "clothes", f"garment {i}") for i in range(garments)]
    columns = [library_image(designer, "person", f"model {j}") for j in range(models)]
    return runs.start_run(designer, tool=FASHION_SWAP, style=None, rows=(GARMENT, rows), columns=(MODEL, columns))


def creations(simulator, status: int | None = None) -> list[dict]:
    return [
        entry
        for entry in simulator.requests()
        if entry["method"] == "POST" and (status is None or entry["status"] == status)
    ]


def all_sent(run) -> bool:
    return not run.cells.exclude(state=RunCell.State.SENT).exists()


def test_two_workers_under_the_rate_limit_send_every_cell_once(settings, simulator, designer):
    # The upstream takes 3 requests in any 2 seconds; the workers would send 10 a second.
    simulator.configure(rate_limit="3/2")
    simulator.clear_requests()
    with (
        WorkerProcess(settings, sends_per_minute=600) as first,
        WorkerProcess(settings, sends_per_minute=600) as second,
    ):
        # Both are up before the run starts: on a busy machine the second took longer to
        # start than the first took to send all twelve.
        run = start(designer, 4, 3)
        wait_until(lambda: all_sent(run), timeout=120, message="every cell of the run sent")
        wait_until(tasks.settled, timeout=30, message="no task left to run")

    made = creations(simulator, status=200)
    refused = creations(simulator, status=429)
    assert refused, "the rate limit was never reached: this test would not show 429s are honoured"
    assert len(made) == 12, f"12 cells must make 12 jobs, the upstream made {len(made)}"
    recorded = set(Job.objects.filter(run=run).values_list("history_item_id", flat=True))
    cells = list(run.cells.select_related("job"))
    assert len(recorded) == 12 and {cell.job.history_item_id for cell in cells} == recorded
    assert all(genapi.item(item_id) for item_id in recorded), "every recorded id is a job the upstream knows"
    assert {cell.claimed_by for cell in cells} == {first.name, second.name}, "both workers sent some cells"
    assert all(cell.attempt == 1 for cell in cells)


def test_sends_keep_to_the_pace_across_workers(settings, simulator, designer):
    simulator.clear_requests()
    started = time.time()
    run = start(designer, 3, 2)
    with WorkerProcess(settings, sends_per_minute=120), WorkerProcess(settings, sends_per_minute=120):
        wait_until(lambda: all_sent(run), timeout=60, message="every cell sent")

    # 120 a minute is a send time every 0.5 s, whichever worker takes it: the k-th job
    # (counting from 0) reaches the upstream no sooner than k × 0.5 s after the start.
    # (A busy machine may delay a send, and so bring two closer together, but never
    # lets more through in a span than the pace allows.)
    arrived = sorted(entry["at"] - started for entry in creations(simulator))
    assert len(arrived) == 6
    early = [(k, round(at, 3)) for k, at in enumerate(arrived) if at < k * 0.5]
    assert not early, f"jobs sent ahead of the pace (k, seconds after the start): {early}"


def test_cancel_stops_the_cells_not_yet_sent(settings, simulator, designer):
    simulator.clear_requests()
    run = start(designer, 5, 2)
    with WorkerProcess(settings, sends_per_minute=60):
        wait_until(
            lambda: run.cells.filter(state=RunCell.State.SENT).count() >= 2, timeout=60, message="two cells sent"
        )
        cancelled = runs.cancel(run, designer)
        wait_until(tasks.settled, timeout=60, message="the worker went through every task")

    states = list(run.cells.values_list("state", flat=True))
    sent = states.count(RunCell.State.SENT)
    assert cancelled >= 1 and states.count(RunCell.State.CANCELLED) == cancelled
    assert sent + cancelled == 10, f"every cell is sent or cancelled: {states}"
    assert len(creations(simulator)) == sent, "a cancelled cell reached the upstream"
    assert run.cancelled_at is not None and run.cancelled_by_name == "ada"
    assert runs.progress(run).cancelled == cancelled


def test_one_claim_wins_however_many_workers_race_for_a_cell(designer):
    run = start(designer, 1, 1)
    cell = run.cells.get()
    barrier = threading.Barrier(6)
    won: list[bool] = []

    def race(name: str) -> None:
        barrier.wait()
        try:
            won.append(runs.claim(cell.pk, cell.attempt, name))
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=(f"w{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False] * 5 + [True]


def test_the_same_cell_enqueued_twice_is_sent_once(settings, simulator, designer):
    from dashboard.runs.tasks import send_cell

    simulator.clear_requests()
    run = start(designer, 1, 1)
    cell = run.cells.get()
    # A duplicate task for the same attempt: a retried enqueue, a restored backup...
    send_cell.enqueue(cell.pk, cell.attempt, 0)
    with WorkerProcess(settings), WorkerProcess(settings):
        wait_until(lambda: all_sent(run), timeout=60, message="the cell sent")
        wait_until(tasks.settled, timeout=30, message="both tasks run")

    assert len(tasks.with_status("SUCCESSFUL")) == 2, "both tasks ran"
    assert len(creations(simulator)) == 1


def test_a_queued_cell_whose_task_was_lost_is_sent_all_the_same(settings, simulator, designer):
    """The backend lost the cell's task (a Redis restarted without persistence, a row
    deleted): a worker's tending asks for it through the tasks API, is told there is no
    such task, and enqueues the cell again."""
    simulator.clear_requests()
    run = start(designer, 1, 1)
    cell = run.cells.get()
    tasks.forget(cell.task_id)
    with WorkerProcess(settings):
        wait_until(lambda: all_sent(run), timeout=60, message="the cell sent")

    cell.refresh_from_db()
    assert cell.attempt == 1 and len(creations(simulator)) == 1


def test_cells_put_off_till_their_send_time_are_sent_after_the_worker_that_put_them_off_died(
    settings, simulator, designer
):
    """Six sends a minute: every cell but the first is put off till its send time, 10 s
    apart (`run_after`, the worker given back meanwhile). The worker that put them off is
    killed; the other sends every one, once. (With RQ, the first worker holds the scheduler
    that moves put-off tasks to the queue when due: the one killed.)"""
    simulator.clear_requests()
    run = start(designer, 3, 1)
    with WorkerProcess(settings, sends_per_minute=6) as first:
        wait_until(
            lambda: len(tasks.with_status("SUCCESSFUL")) == 3,  # one sent, two put off
            timeout=30,
            message="the first cell sent and the others put off",
        )
        with WorkerProcess(settings, sends_per_minute=6) as second:
            first.kill()
            wait_until(
                lambda: all_sent(run),
                timeout=120,
                message=lambda: f"every cell sent; the survivor said:\n{second.output()[-3000:]}",
            )

    assert len(creations(simulator, status=200)) == 3
    assert all(cell.attempt == 1 for cell in run.cells.all())


HELD_MS = 4000


def test_a_cell_whose_worker_died_while_sending_is_not_sent_again_by_itself(settings, simulator, designer):
    simulator.clear_requests()
    simulator.configure(latency_ms=HELD_MS)  # the upstream holds the job creation a while
    run = start(designer, 1, 1)
    cell = run.cells.get()
    with WorkerProcess(settings) as worker:
        wait_until(
            lambda: RunCell.objects.get(pk=cell.pk).state == RunCell.State.SENDING,
            timeout=30,
            message="the cell claimed",
        )
        worker.kill()
        killed_at = time.monotonic()
    simulator.configure(latency_ms=0)
    with WorkerProcess(settings):
        # The dead worker's task is left RUNNING; nothing else may send this cell.
        wait_until(lambda: not tasks.with_status("READY"), timeout=30, message="ready tasks taken")
    cell.refresh_from_db()
    assert cell.state == RunCell.State.SENDING and cell.job is None
    assert runs.cell_status(cell) == "sending"

    # Once it has been quiet too long it shows as failed, with why, and may be tried again.
    RunCell.objects.filter(pk=cell.pk).update(claimed_at=timezone.now() - runs.STUCK_AFTER * 2)
    cell.refresh_from_db()
    assert runs.cell_status(cell) == "failed" and "may or may not" in runs.cell_problem(cell)
    # The dead worker's request, when it reached the simulator before the kill, is still held
    # there and is logged only once the hold is over (and the job made): wait for it (or long
    # enough for it), or it would be counted below as the new attempt's: a test that got here
    # within the hold counted it twice.
    wait_until(
        lambda: creations(simulator) or time.monotonic() - killed_at > HELD_MS / 1000 + 10,
        timeout=HELD_MS / 1000 + 20,
        message="the dead worker's request logged or given up",
    )
    before = len(creations(simulator))
    assert runs.retry(run, designer) == 1
    with WorkerProcess(settings):
        wait_until(lambda: all_sent(run), timeout=60, message="the new attempt sent")
    cell.refresh_from_db()
    assert cell.attempt == 2 and cell.job is not None
    assert len(creations(simulator)) == before + 1


def test_a_failed_job_is_tried_again_as_a_new_attempt(settings, simulator, designer, syncing):
    # The jobs' ends reach the run through the index: the sync process (`syncing`) follows them.
    simulator.configure(fail_next=1)
    run = start(designer, 2, 1)
    with WorkerProcess(settings):
        wait_until(lambda: all_sent(run), timeout=60, message="both cells sent")
        wait_until(lambda: runs.progress(run).finished, timeout=60, message="both jobs finished")
        progress = runs.progress(run)
        assert (progress.done, progress.failed, progress.failed_after_sending) == (1, 1, 1)
        failed = next(cell for cell in run.cells.select_related("job") if runs.cell_status(cell) == "failed")
        first_job = failed.job
        assert runs.retry(run, designer, [failed.pk]) == 1
        assert runs.retry(run, designer, [failed.pk]) == 0, "a second press makes no second attempt"
        wait_until(lambda: runs.progress(run).finished and runs.progress(run).done == 2, timeout=60, message="retried")

    failed.refresh_from_db()
    assert failed.attempt == 2 and failed.job != first_job
    assert Job.objects.filter(pk=first_job.pk, status=Job.Status.ERROR).exists(), "the failed job stays in History"


def test_a_worker_killed_mid_run_has_its_task_taken_over_within_a_minute_nobody_watching(settings, simulator, designer):
    """kill -9 of one of two workers while it holds a task (waiting, inside it, for its
    paced send time), nothing started in its place and no run page open: the other takes
    the task over once the dead one has been silent for WORKER_DEAD_AFTER_SECONDS (30 s),
    and every cell is sent exactly once."""
    simulator.clear_requests()
    run = start(designer, 3, 3)
    with (
        WorkerProcess(settings, sends_per_minute=20) as first,
        WorkerProcess(settings, sends_per_minute=20) as second,
    ):
        by_name = {first.name: first, second.name: second}

        def held_task() -> tuple[RunCell, WorkerProcess] | None:
            """A queued cell whose task a worker runs (sleeping till its send time), and that worker."""
            for task in tasks.with_status("RUNNING"):
                cell = RunCell.objects.filter(pk=task.args[0], task_id=task.id).first()
                if cell and cell.state == RunCell.State.QUEUED and task.worker_ids[-1:][0] in by_name:
                    return cell, by_name[task.worker_ids[-1]]
            return None

        held, doomed = wait_until(held_task, timeout=60, interval=0.05, message="a worker holding a queued cell's task")
        doomed.kill()
        killed_at = time.monotonic()
        survivor = second if doomed is first else first
        wait_until(
            lambda: RunCell.objects.get(pk=held.pk).state == RunCell.State.SENT,
            timeout=90,
            message=lambda: f"the held cell taken over; the survivor said:\n{survivor.output()[-3000:]}",
        )
        taken_over_after = time.monotonic() - killed_at
        wait_until(lambda: all_sent(run), timeout=90, message="every cell of the run sent")
        time.sleep(1)  # a duplicate send under way would show in the log now

    assert taken_over_after < 60, f"the dead worker's cell was sent {taken_over_after:.0f} s after the kill"
    assert RunCell.objects.get(pk=held.pk).claimed_by == survivor.name
    made = creations(simulator, status=200)
    assert len(made) == 9, f"9 cells must make 9 jobs, the upstream made {len(made)}"
    assert all(cell.attempt == 1 for cell in run.cells.all())
    if settings.TASKS_BACKEND == "database":
        from dashboard.runs.tasks import send_cell

        # The database backend's own row of the dead worker's task would say "running"
        # for good; run_worker marks it failed (RQ cleans its own registries).
        orphan = send_cell.get_result(str(held.task_id))
        assert orphan.status == "FAILED" and "stopped without finishing" in orphan.errors[-1].traceback, (
            "the orphaned row tidied"
        )
