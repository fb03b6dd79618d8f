"""The run engine (dashboard/runs/services.py) with the upstream stubbed by `responses`: what one
send does with each answer, retries, progress. Real database, real stored images; the
real worker processes are in tests/runs/test_worker.py."""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta

import pytest
import requests
import responses
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from dashboard import genapi
from dashboard.core.slots import slots_for
from dashboard.models import AuditEntry, InputImage, Job, RunCell, SendPacer, WorkerBeat
from dashboard.runs import services as runs
from dashboard.runs import workers
from tests.support.library import library_image
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_redis]
API = "http://genapi.test"
JOB_URL = f"{API}/generation/generate_image_v2/"
FASHION_SWAP = genapi.Tool(name="fashion_swap", title="Fashion Swap", group="fashion")
GARMENT, MODEL = slots_for("fashion_swap", "fashion")


@pytest.fixture
def designer(ada):
    """Ada, logged in nowhere: the run engine is called directly."""
    return ada


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def run(designer, django_capture_on_commit_callbacks):
    rows = [library_image(designer, "clothes", f"dress {i}") for i in range(2)]
    columns = [library_image(designer, "person", f"anna {j}") for j in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        return runs.start_run(designer, tool=FASHION_SWAP, style=None, rows=(GARMENT, rows), columns=(MODEL, columns))


def created(item_id: str) -> dict:
    return {"history_item_id": item_id, "preview_image": f"image/{item_id}.webp", "stock_image": f"image/{item_id}.png"}


def first_cell(run) -> RunCell:
    return run.cells.order_by("row", "column").first()


def enqueued(cell: RunCell) -> list[DBTaskResult]:
    return [task for task in DBTaskResult.objects.order_by("enqueued_at") if task.args_kwargs["args"][0] == cell.pk]


class TestStarting:
    def test_a_run_is_its_cells_row_by_column_each_enqueued_once(self, run):
        cells = list(run.cells.order_by("row", "column"))
        assert [(cell.row, cell.column) for cell in cells] == [(r, c) for r in range(2) for c in range(3)]
        assert {cell.row_image.display_name for cell in cells} == {"dress 0", "dress 1"}
        assert all(cell.state == RunCell.State.QUEUED and cell.attempt == 1 for cell in cells)
        assert sorted(task.args_kwargs["args"][0] for task in DBTaskResult.objects.all()) == [c.pk for c in cells]
        assert [runs.row_images(run)[i].display_name for i in range(2)] == ["dress 0", "dress 1"]
        assert len(runs.column_images(run)) == 3

    def test_a_run_over_the_limit_is_refused_with_the_numbers(self, designer, settings):
        settings.RUN_MAX_JOBS = 5
        rows = [library_image(designer, "clothes", "a"), library_image(designer, "clothes", "b")]
        columns = [library_image(designer, "person", "x")] * 3
        with pytest.raises(runs.RunTooLarge) as refused:
            runs.start_run(designer, tool=FASHION_SWAP, style=None, rows=(GARMENT, rows), columns=(MODEL, columns))
        assert "6 jobs" in refused.value.message and "at most 5" in refused.value.message

    def test_the_runs_images_join_the_library_and_are_no_drafts(self, run, designer):
        assert not InputImage.objects.filter(owner=designer).drafts().exists()
        assert InputImage.objects.filter(owner=designer, in_library=True).count() == 5


class TestSendingOneCell:
    def test_a_sent_cell_records_its_job_with_the_run_and_inputs(self, run, api):
        api.post(JOB_URL, json=created("a1b2c3d4e5f6a1b2c3d4e5f6"))
        cell = first_cell(run)
        assert runs.send_cell(cell.pk, 1) == "sent"
        cell.refresh_from_db()
        assert cell.state == RunCell.State.SENT and cell.sent_at is not None
        job = cell.job
        assert job.history_item_id == "a1b2c3d4e5f6a1b2c3d4e5f6" and job.run == run and job.designer == run.designer
        assert [(i.slot, i.image_id) for i in job.inputs.all()] == [
            ("clothes", cell.row_image_id),
            ("person", cell.column_image_id),
        ]
        assert AuditEntry.objects.filter(history_item_id=job.history_item_id, succeeded=True).exists()

    def test_a_cell_is_sent_once_per_attempt(self, run, api):
        api.post(JOB_URL, json=created("a1b2c3d4e5f6a1b2c3d4e5f6"))
        cell = first_cell(run)
        assert runs.send_cell(cell.pk, 1) == "sent"
        assert runs.send_cell(cell.pk, 1) == "skipped"
        assert runs.send_cell(cell.pk, 2) == "skipped", "an attempt that was never made is not sent"
        assert len(api.calls) == 1

    def test_a_refused_job_is_not_sent_and_says_why(self, run, api):
        api.post(
            JOB_URL,
            status=422,
            json={"detail": [{"loc": ["body", "person"], "msg": "Not a valid image", "type": "value_error"}]},
        )
        cell = first_cell(run)
        assert runs.send_cell(cell.pk, 1) == "not sent"
        cell.refresh_from_db()
        assert cell.state == RunCell.State.NOT_SENT and cell.problem == "Not a valid image"
        assert runs.cell_status(cell) == "failed" and runs.cell_problem(cell) == "Not a valid image"
        assert AuditEntry.objects.filter(succeeded=False, detail="Not a valid image").exists()

    def test_a_429_holds_every_worker_and_sends_the_cell_after_retry_after(self, run, api):
        api.post(JOB_URL, status=429, json={"detail": "slow down"}, headers={"Retry-After": "7"})
        cell = first_cell(run)
        before = len(enqueued(cell))
        assert runs.send_cell(cell.pk, 1) == "later"
        cell.refresh_from_db()
        assert cell.state == RunCell.State.QUEUED and cell.claimed_by == ""
        pacer = SendPacer.objects.get(name=runs.PACER_NAME)
        assert pacer.next_send_at >= timezone.now() + timedelta(seconds=6)
        again = enqueued(cell)[before:]
        assert len(again) == 1 and again[0].run_after >= timezone.now() + timedelta(seconds=6)
        assert again[0].args_kwargs["args"] == [cell.pk, 1, 1, ""], "no send time kept: it takes a new one then"

    def test_a_task_whose_send_time_is_far_gives_the_worker_back_and_keeps_its_time(self, run, api):
        api.post(JOB_URL, json=created("a1b2c3d4e5f6a1b2c3d4e5f6"))
        runs.hold_sends_until(timezone.now() + timedelta(seconds=60))
        cells = list(run.cells.order_by("row", "column"))
        assert [runs.send_cell(cell.pk, 1) for cell in cells] == ["deferred"] * 6
        assert not api.calls
        assert RunCell.objects.filter(run=run, state=RunCell.State.QUEUED).count() == 6
        later = [enqueued(cell)[-1] for cell in cells]
        assert all(task.run_after >= timezone.now() + timedelta(seconds=50) for task in later)
        # Coming back at its time, a task sends then, taking no second send time.
        reserved_at = later[0].args_kwargs["args"][3]
        assert reserved_at == later[0].run_after.isoformat()
        pace = SendPacer.objects.get().next_send_at
        assert runs.send_cell(cells[0].pk, 1, 0, timezone.now().isoformat()) == "sent"
        assert SendPacer.objects.get().next_send_at == pace
        assert runs.send_cell(cells[1].pk, 1) == "deferred", "without one, it takes the next"
        assert SendPacer.objects.get().next_send_at > pace

    def test_an_unreachable_upstream_is_tried_again_then_given_up_with_a_message(self, run, settings):
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        settings.GENAPI_BASE_URL = f"http://127.0.0.1:{port}"  # nothing listens there
        cell = first_cell(run)
        SendPacer.objects.all().delete()
        assert runs.send_cell(cell.pk, 1, 0) == "later"
        SendPacer.objects.all().delete()
        assert runs.send_cell(cell.pk, 1, len(runs.BACKOFF_SECONDS) - 1) == "not sent"
        cell.refresh_from_db()
        assert cell.state == RunCell.State.NOT_SENT and "cannot be reached" in cell.problem

    def test_an_answer_that_never_came_is_not_sent_again_by_itself(self, run, settings):
        # A server that reads the request and hangs up: the job may exist upstream.
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()

        def hang_up() -> None:
            connection, _ = server.accept()
            connection.recv(65536)
            connection.close()

        threading.Thread(target=hang_up, daemon=True).start()
        settings.GENAPI_BASE_URL = f"http://127.0.0.1:{server.getsockname()[1]}"
        cell = first_cell(run)
        try:
            assert runs.send_cell(cell.pk, 1) == "not sent"
        finally:
            server.close()
        cell.refresh_from_db()
        assert cell.state == RunCell.State.NOT_SENT and len(enqueued(cell)) == 1


class TestNeverArrived:
    def test_a_refused_connection_surely_never_arrived(self, settings):
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        settings.GENAPI_BASE_URL = f"http://127.0.0.1:{port}"
        with pytest.raises(genapi.UpstreamUnavailable) as failure:
            genapi.create_job("fashion_swap", [])
        assert failure.value.never_arrived

    def test_a_read_timeout_may_have_arrived(self, api):
        api.post(JOB_URL, body=requests.ReadTimeout("slow"))
        with pytest.raises(genapi.UpstreamUnavailable) as failure:
            genapi.create_job("fashion_swap", [])
        assert not failure.value.never_arrived and "may or may not" in failure.value.message


class TestRetryAndCancel:
    def test_try_again_makes_a_new_attempt_of_failed_cells_only(self, run, api, django_capture_on_commit_callbacks):
        api.post(JOB_URL, status=422, json={"detail": "nope"})
        cells = list(run.cells.order_by("row", "column"))
        runs.send_cell(cells[0].pk, 1)
        with django_capture_on_commit_callbacks(execute=True):
            assert runs.retry(run, run.designer) == 1
            assert runs.retry(run, run.designer) == 0
        cells[0].refresh_from_db()
        assert (cells[0].state, cells[0].attempt, cells[0].problem) == (RunCell.State.QUEUED, 2, "")
        assert enqueued(cells[0])[-1].args_kwargs["args"] == [cells[0].pk, 2, 0, ""]
        assert RunCell.objects.filter(run=run, attempt=1).count() == 5

    def test_cancel_stops_what_is_queued_and_keeps_what_was_sent(self, run, api):
        api.post(JOB_URL, json=created("a1b2c3d4e5f6a1b2c3d4e5f6"))
        cell = first_cell(run)
        runs.send_cell(cell.pk, 1)
        assert runs.cancel(run, run.designer) == 5
        assert runs.cancel(run, run.designer) == 0
        assert runs.send_cell(run.cells.order_by("row", "column")[1].pk, 1) == "skipped"
        progress = runs.progress(run)
        assert (progress.cancelled, progress.running, progress.finished) == (5, 1, False)
        assert len(api.calls) == 1


class TestProgress:
    def test_counts_and_time_left(self, run):
        cells = list(run.cells.order_by("row", "column"))
        now = timezone.now()
        for index, (cell, status) in enumerate(
            zip(cells[:3], [Job.Status.COMPLETE, Job.Status.ERROR, Job.Status.PENDING], strict=True)
        ):
            job = Job.objects.create(
                history_item_id=f"{index:024x}",
                tool="fashion_swap",
                status=status,
                run=run,
                finished_at=None if status == Job.Status.PENDING else now,
            )
            RunCell.objects.filter(pk=cell.pk).update(
                state=RunCell.State.SENT, job=job, sent_at=now - timedelta(seconds=20)
            )
        RunCell.objects.filter(pk=cells[3].pk).update(state=RunCell.State.SENDING, claimed_at=now)
        progress = runs.progress(run)
        assert (
            progress.total,
            progress.done,
            progress.failed,
            progress.running,
            progress.sending,
            progress.queued,
        ) == (6, 1, 1, 1, 1, 2)
        assert progress.sent == 3 and progress.percent_done == 33 and not progress.finished
        # 3 sends left at 60 a minute, then a job's typical 20 s.
        assert progress.eta_seconds == 23

    def test_no_time_left_is_guessed_before_any_job_finished(self, run):
        assert runs.progress(run).eta_seconds is None
        assert runs.progress(run).percent_done == 0


class TestAMissingWorker:
    def test_a_run_waiting_with_no_worker_beating_says_so_and_so_does_healthz(self, run, client):
        assert runs.worker_missing(run), "no worker has ever beaten"
        # Told, but no reason to take the web instance out of the balancer.
        health = client.get("/healthz").json()
        assert health["worker"] == "stopped" and health["database"] == "ok"
        workers.beat("worker-1")
        assert not runs.worker_missing(run) and client.get("/healthz").json()["worker"] == "ok"
        WorkerBeat.objects.update(beat_at=timezone.now() - workers.dead_after() - timedelta(seconds=1))
        assert runs.worker_missing(run), "a worker silent for WORKER_DEAD_AFTER_SECONDS is dead"

    def test_a_worker_that_stops_cleanly_is_gone_at_once(self, run):
        workers.beat("worker-1")
        workers.stopped("worker-1")
        assert runs.worker_missing(run)

    def test_a_run_with_nothing_queued_waits_on_no_worker(self, run):
        runs.cancel(run, run.designer)
        assert not runs.worker_missing(run)


def task_of(cell: RunCell) -> DBTaskResult:
    return DBTaskResult.objects.get(id=cell.task_id)


def taken_by(cell: RunCell, worker: str, ago: timedelta) -> None:
    """The cell's task as the database backend's worker leaves it when it takes it."""
    DBTaskResult.objects.filter(id=cell.task_id).update(
        status="RUNNING", started_at=timezone.now() - ago, worker_ids=[worker]
    )


def waiting_cells() -> list[int]:
    """The cells of the tasks waiting to run."""
    return [task.args_kwargs["args"][0] for task in DBTaskResult.objects.filter(status="READY")]


class TestTakingOverADeadWorker:
    """What every live worker does every WORKER_BEAT_SECONDS (workers.tend), nobody watching."""

    def test_a_queued_cell_whose_task_died_with_its_worker_is_enqueued_again(self, run):
        assert workers.tend() == 0, "every cell's task is waiting"
        cell = first_cell(run)
        task = task_of(cell)
        taken_by(cell, "dead", ago=timedelta(seconds=2))
        assert workers.tend() == 0, "a task taken a moment ago: its worker may not have beaten yet"
        workers.beat("living")
        taken_by(cell, "living", ago=timedelta(seconds=120))
        assert workers.tend() == 0, "its worker beats: the task is being run"
        taken_by(cell, "dead", ago=timedelta(seconds=120))
        assert workers.tend() == 1
        cell.refresh_from_db()
        assert cell.task_id != str(task.id) and task_of(cell).status == "READY"
        assert workers.tend() == 0

    def test_a_task_running_longer_than_any_send_is_lost_even_on_a_living_worker(self, run):
        workers.beat("living")
        taken_by(first_cell(run), "living", ago=runs.STUCK_AFTER + timedelta(seconds=1))
        assert workers.tend() == 1, "its database failed mid-task: the task will never end"

    def test_a_failed_task_leaves_its_cell_to_be_enqueued_again(self, run):
        cell = first_cell(run)
        DBTaskResult.objects.filter(id=cell.task_id).update(status="FAILED")
        assert workers.tend() == 1

    def test_a_task_being_taken_when_read_is_alive(self, run):
        # RQ reads a task's status apart from its times: a task read as its worker takes it
        # is running with no start time yet.
        DBTaskResult.objects.filter(id=first_cell(run).task_id).update(status="RUNNING", started_at=None)
        assert workers.tend() == 0

    @pytest.mark.parametrize("move", ["sent", "put off"])
    def test_a_cell_its_task_moved_on_while_the_cells_were_read_is_no_orphan(self, run, monkeypatch, move):
        cell = first_cell(run)
        task_alive = runs._task_alive

        def worker_moves_the_cell_meanwhile(task_id, living):
            if task_id == cell.task_id:  # between the cells' read and this task's: the task ends
                if move == "sent":
                    assert runs.claim(cell.pk, cell.attempt, "living")
                else:
                    runs._enqueue([(cell.pk, cell.attempt)], run_after=timezone.now() + timedelta(seconds=10))
                DBTaskResult.objects.filter(id=task_id).update(status="SUCCESSFUL")
            return task_alive(task_id, living)

        monkeypatch.setattr(runs, "_task_alive", worker_moves_the_cell_meanwhile)
        workers.beat("living")
        assert workers.tend() == 0
        assert waiting_cells().count(cell.pk) == (0 if move == "sent" else 1), "no second task for the cell"

    def test_a_cell_a_dead_worker_was_sending_is_shown_failed_at_once_and_never_sent_again(self, run):
        cell = first_cell(run)
        taken_by(cell, "dead", ago=timedelta(seconds=1))
        assert runs.claim(cell.pk, cell.attempt, "dead")
        assert workers.tend() == 0, "claimed a moment ago: its worker may be sending it"
        RunCell.objects.filter(pk=cell.pk).update(claimed_at=timezone.now() - workers.dead_after() * 2)
        workers.beat("living")
        assert workers.tend() == 1
        cell.refresh_from_db()
        assert cell.state == RunCell.State.NOT_SENT and "may or may not have been made" in cell.problem
        assert runs.cell_status(cell) == "failed" and cell in runs.retryable(run)
        assert cell.pk not in waiting_cells(), "not sent again by itself"

    def test_a_cell_a_living_worker_is_sending_slowly_is_left_alone(self, run):
        cell = first_cell(run)
        assert runs.claim(cell.pk, cell.attempt, "living")
        RunCell.objects.filter(pk=cell.pk).update(claimed_at=timezone.now() - workers.dead_after() * 2)
        workers.beat("living")
        assert workers.tend() == 0
        cell.refresh_from_db()
        assert cell.state == RunCell.State.SENDING

    def test_cells_already_sent_or_cancelled_are_left_alone(self, run):
        DBTaskResult.objects.update(status="FAILED")
        runs.cancel(run, run.designer)
        assert workers.tend() == 0

    def test_the_database_backends_task_rows_of_a_dead_worker_are_marked_failed(self, run):
        from dashboard.runs.backends.database import fail_orphaned_task_rows

        dead, living, fresh = list(run.cells.order_by("row", "column"))[:3]
        taken_by(dead, "dead", ago=timedelta(seconds=120))
        taken_by(living, "living", ago=timedelta(seconds=120))
        taken_by(fresh, "dead", ago=timedelta(seconds=1))
        assert fail_orphaned_task_rows({"living"}) == 1
        assert task_of(dead).status == "FAILED" and "stopped without finishing" in task_of(dead).traceback
        assert task_of(living).status == task_of(fresh).status == "RUNNING"


class TestTheHeart:
    def test_a_failure_while_tending_is_logged_and_the_beats_go_on(self, settings, monkeypatch, transactional_db):
        settings.WORKER_BEAT_SECONDS = 0.05
        tended = []

        def failing_tend(living=None):
            tended.append(1)
            raise ValueError("a task backend's surprise")

        monkeypatch.setattr(workers, "tend", failing_tend)
        heart = workers.Heart("worker-1")
        heart.start()
        try:
            wait_until(lambda: len(tended) >= 3, timeout=10, message="tending tried again after failing")
            assert heart.is_alive()
            assert "worker-1" in workers.alive()
        finally:
            heart.stop()
        assert "worker-1" not in workers.alive(), "a clean stop is dead at once"

    def test_one_worker_tends_at_a_time_and_the_next_takes_its_turn_when_it_dies(
        self, settings, monkeypatch, transactional_db
    ):
        settings.WORKER_BEAT_SECONDS = 0.05
        tended_by = []
        monkeypatch.setattr(workers, "tend", lambda living=None: tended_by.append(sorted(living)))
        workers.beat("host:1:aaaaaa")
        heart = workers.Heart("host:2:bbbbbb")
        heart.start()
        try:
            wait_until(lambda: "host:2:bbbbbb" in workers.alive(), timeout=10, message="the second worker beats")
            time.sleep(0.5)  # ten beats of the second worker
            assert tended_by == [], "the first of the living tends; the others only beat"
            WorkerBeat.objects.filter(name="host:1:aaaaaa").update(beat_at=timezone.now() - workers.dead_after() * 2)
            wait_until(lambda: tended_by, timeout=10, message="the second tends once the first is dead")
            assert tended_by[0] == ["host:2:bbbbbb"]
        finally:
            heart.stop()
