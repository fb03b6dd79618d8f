"""The matrix run pages against the real simulator: the form (files, library, refusals,
limits, double submits), the run page and its poll, cancel and try again, the gallery's
run filter. The worker's part (sending cells) is played here by `send_cells`, which does
what it does: one job per cell, recorded on the cell. The page reads the index; where it
must see jobs finish by themselves, the sync process runs beside it (`syncing`)."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from dashboard import genapi
from dashboard.core import tokens
from dashboard.core.slots import Slot
from dashboard.index import status as index_status
from dashboard.models import InputImage, Job, Run, RunCell
from dashboard.runs import services as runs
from tests.support.corpus import garment_photo, person_photo
from tests.support.library import library_image
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.postgres_redis]
HTMX = {"HX-Request": "true"}
GARMENT = Slot("clothes", "Garment")
MODEL = Slot("person", "Model photo")


@pytest.fixture
def designer(on_simulator, settings, designer):
    """Ada, logged into `client`, with Django on the real simulator and sends unpaced."""
    settings.RUN_SENDS_PER_MINUTE = 60_000  # pacing is the worker tests' subject, not these
    return designer


def garment_file(name: str, width: int = 400) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, garment_photo(size=(width, 460)), "image/png")


def model_file(name: str, width: int = 480) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, person_photo(size=(width, 640), fmt="PNG"), "image/png")


def run_form(**fields) -> dict:
    return {"tool": "fashion_swap", "tool_group": "fashion", "submission": tokens.new(), **fields}


def make_run(owner, garments: int, models: int) -> Run:
    rows = [
        library_image(owner, "clothes", f"garment-{index}", garment_photo(size=(400 + index, 460)))
        for index in range(garments)
    ]
    columns = [
        library_image(owner, "person", f"model-{index}", person_photo(size=(480 + index, 640), fmt="PNG"))
        for index in range(models)
    ]
    tool = genapi.Tool(name="fashion_swap", title="Fashion Swap", group="fashion")
    return runs.start_run(owner, tool=tool, style=None, rows=(GARMENT, rows), columns=(MODEL, columns))


def send_cells(run: Run) -> list[Job]:
    """What the worker does with each queued cell (the engine's own send_cell, called here
    rather than from a worker process): its job sent and recorded on the cell."""
    for cell in run.cells.filter(state=RunCell.State.QUEUED).order_by("row", "column"):
        assert runs.send_cell(cell.pk, cell.attempt, worker="test") == "sent"
    return list(Job.objects.filter(run=run).order_by("created_at", "id"))


def index_is_current() -> bool:
    """Whether the sync process has reached the upstream lately (the pages say nothing of it)."""
    return not index_status.current().stale


def poll_url(body: str) -> str | None:
    match = re.search(r'id="run-live"[^>]*?hx-get="([^"]+)"', body)
    return match.group(1).replace("&amp;", "&") if match else None


class TestTheForm:
    def test_offers_the_team_library_by_slot_recent_first_and_searches_it(self, client, designer, teammate):
        older = library_image(teammate, "clothes", "linen shirt")
        newer = library_image(designer, "clothes", "wool coat")
        library_image(designer, "person", "studio model")
        private = library_image(teammate, "clothes", "secret sample")
        InputImage.objects.filter(pk=private.pk).update(private=True)
        body = client.get(reverse("new_run"), {"tool": "fashion_swap"}).content.decode()
        garments = body.split('id="picker-clothes"')[1].split('id="picker-person"')[0]
        assert garments.index("wool coat") < garments.index("linen shirt")
        assert "studio model" not in garments and "secret sample" not in body
        picker = client.get(
            reverse("run_picker"),
            {"tool": "fashion_swap", "slot": "clothes", "clothes__q": "linen", "clothes__library": str(newer.pk)},
            headers=HTMX,
        ).content.decode()
        # The search finds the linen shirt; the ticked coat stays, ticked.
        assert f'value="{older.pk}"' in picker and re.search(rf'value="{newer.pk}"[^>]*\schecked', picker)
        assert "studio model" not in picker

    def test_new_files_and_library_images_start_one_run_and_the_request_returns_at_once(self, client, designer):
        model = library_image(designer, "person", "studio model")
        response = client.post(
            reverse("new_run"),
            run_form(clothes=[garment_file("red.png"), garment_file("blue.png", 401)], person__library=[str(model.pk)]),
        )
        run = Run.objects.get()
        assert response.status_code == 303 and response["Location"] == reverse("run", args=[run.pk])
        assert run.cells.count() == 2 and run.row_slot == "clothes" and run.column_slot == "person"
        stored = InputImage.objects.filter(kind="clothes")
        assert sorted(stored.values_list("name", flat=True)) == ["blue", "red"]
        assert all(image.in_library for image in stored)
        assert not Job.objects.exists()  # the worker sends, not the request

    def test_a_tool_with_one_slot_makes_a_run_of_one_column(self, client, designer):
        response = client.post(
            reverse("new_run"),
            run_form(tool="default", tool_group="default", image=[garment_file("a.png"), garment_file("b.png", 401)]),
        )
        run = Run.objects.get()
        assert response.status_code == 303 and run.row_slot == "image" and run.column_slot == ""
        body = client.get(reverse("run", args=[run.pk])).content.decode()
        assert body.count('class="matrix-cell') == 2 and '<span class="matrix-name">Result</span>' in body

    def test_over_the_limit_is_refused_with_a_clear_message_and_nothing_is_lost(self, client, designer, settings):
        settings.RUN_MAX_JOBS = 4
        models = [
            library_image(designer, "person", f"model {index}", person_photo(size=(480 + index, 640), fmt="PNG"))
            for index in range(2)
        ]
        response = client.post(
            reverse("new_run"),
            run_form(
                clothes=[garment_file(f"g{index}.png", 400 + index) for index in range(3)],
                person__library=[str(m.pk) for m in models],
            ),
        )
        body = response.content.decode()
        assert response.status_code == 400
        assert "This run would send 6 jobs; one run can send at most 4." in body
        assert not Run.objects.exists()
        garments = InputImage.objects.filter(kind="clothes")
        assert garments.count() == 3
        for image in [*garments, *models]:
            assert re.search(rf'value="{image.pk}"[^>]*\schecked', body), "a chosen image was dropped"

    def test_a_refused_file_is_named_not_stored_and_the_good_ones_come_back_ticked(self, client, designer):
        notes = SimpleUploadedFile("notes.png", b"These are my notes, not a picture.\n" * 20, "image/png")
        response = client.post(
            reverse("new_run"),
            run_form(clothes=[garment_file("red.png"), notes], person=[model_file("ines.png")]),
        )
        body = response.content.decode()
        assert response.status_code == 400
        assert "1 file was refused, so no run was started." in body
        assert "<strong>notes.png</strong>: " in body and "not an image we can read" in body
        assert not Run.objects.exists()
        assert sorted(InputImage.objects.values_list("original_name", flat=True)) == ["ines.png", "red.png"]
        for image in InputImage.objects.all():
            assert re.search(rf'value="{image.pk}"[^>]*\schecked', body)
        # Sent again as drawn (the ticks, the same token): the run starts.
        token = re.search(r'name="submission" value="([^"]+)"', body).group(1)
        again = client.post(
            reverse("new_run"),
            run_form(
                submission=token,
                clothes__library=[str(InputImage.objects.get(original_name="red.png").pk)],
                person__library=[str(InputImage.objects.get(original_name="ines.png").pk)],
            ),
        )
        assert again.status_code == 303 and Run.objects.get().cells.count() == 1

    def test_a_slot_left_empty_is_named(self, client, designer):
        response = client.post(reverse("new_run"), run_form(clothes=[garment_file("red.png")]))
        assert response.status_code == 400
        assert "Add at least one model photo." in response.content.decode()
        assert not Run.objects.exists()
        assert InputImage.objects.get().in_library  # the garment waits in the library, ticked

    def test_sent_twice_it_starts_one_run_and_the_second_lands_on_it(self, client, designer):
        model = library_image(designer, "person", "studio model")
        form = run_form(person__library=[str(model.pk)])
        first = client.post(reverse("new_run"), {**form, "clothes": [garment_file("red.png")]})
        second = client.post(reverse("new_run"), {**form, "clothes": [garment_file("red.png")]}, follow=True)
        run = Run.objects.get()
        assert first.status_code == 303
        assert second.redirect_chain == [(reverse("run", args=[run.pk]), 303)]
        assert "This form was sent already, so no second run was started." in second.content.decode()
        assert InputImage.objects.filter(kind="clothes").count() == 1  # the replay stored nothing

    def test_add_files_and_keep_choosing_stores_them_without_starting(self, client, designer):
        response = client.post(
            reverse("new_run"),
            run_form(action="keep", clothes=[garment_file("red.png"), garment_file("blue.png", 401)]),
        )
        body = response.content.decode()
        assert response.status_code == 200
        assert "2 new files added and ticked." in body and "Add at least one" not in body
        assert not Run.objects.exists()
        assert all(re.search(rf'value="{image.pk}"[^>]*\schecked', body) for image in InputImage.objects.all())

    def test_more_than_one_request_can_carry_gets_a_413_that_says_how_to_add_them(self, client, designer, settings):
        settings.REQUEST_MAX_BYTES = 1024 * 1024
        big = SimpleUploadedFile("huge.png", garment_photo() + b"\0" * (2 * 1024 * 1024), "image/png")
        response = client.post(reverse("new_run"), run_form(clothes=[big]))
        body = response.content.decode()
        assert response.status_code == 413
        assert "the run form can carry at most 1 MB at once. No run was started" in body
        assert "Add files and keep choosing" in body
        assert not Run.objects.exists() and not InputImage.objects.exists()

    def test_says_how_much_one_send_can_carry(self, client, designer, settings):
        body = client.get(reverse("new_run")).content.decode()
        assert "You can add up to 45 MB of new files in one go (each up to 20 MB)." in body
        assert 'data-request-max="47185920"' in body


class TestTheRunPage:
    def test_the_matrix_has_the_inputs_on_its_edges_and_a_cell_per_job(self, client, designer, simulator):
        simulator.configure(job_seconds=60)
        run = make_run(designer, 3, 2)
        send_cells(run)
        body = client.get(reverse("run", args=[run.pk])).content.decode()
        assert body.count('class="matrix-cell') == 6
        assert body.count('class="matrix-edge matrix-row-head"') == 3
        assert "garment-0" in body and "model-1" in body
        assert body.count("cell-running") == 6
        assert poll_url(body) is not None

    def test_polls_answer_204_while_nothing_changes_and_286_once_finished(self, client, designer, simulator, syncing):
        simulator.configure(job_seconds=60)
        slow = make_run(designer, 1, 2)
        send_cells(slow)
        # Once the sync has reached the upstream, what the page says about the index stays put.
        wait_until(index_is_current, timeout=20, interval=0.1, message="the sync never reached the simulator")
        url = poll_url(client.get(reverse("run", args=[slow.pk])).content.decode())
        unchanged = client.get(url, headers=HTMX)
        assert unchanged.status_code == 204 and unchanged.content == b""

        simulator.configure(job_seconds=0.2)
        quick = make_run(designer, 1, 2)
        send_cells(quick)
        url = poll_url(client.get(reverse("run", args=[quick.pk])).content.decode())

        def finished():
            response = client.get(url, headers=HTMX)
            return response if response.status_code == 286 else None

        # The sync process sees the jobs finish; the page's poll only reads the index.
        last = wait_until(finished, timeout=20, interval=0.3, message="the run never finished")
        # The last answer draws the finished matrix, with no poller left in it.
        assert b"This run has finished" in last.content and b"hx-trigger" not in last.content
        assert last.content.count(b"cell-done") == 2
        assert poll_url(client.get(reverse("run", args=[quick.pk])).content.decode()) is None

    def test_a_poll_makes_no_upstream_call_for_20_cells_as_for_one(self, client, designer, simulator):
        # The sync process follows the statuses: one listing a tick however many run
        # (tests/index/test_sync.py); the run page only reads the index.
        simulator.configure(job_seconds=60)
        big, small = make_run(designer, 5, 4), make_run(designer, 1, 1)
        send_cells(big)
        send_cells(small)
        for run in (big, small):
            simulator.clear_requests()
            response = client.get(reverse("run_poll", args=[run.pk]), headers=HTMX)
            assert response.status_code == 200
            assert response.content.decode().count("cell-running") == run.cells.count()
            assert simulator.requests() == []

    def test_an_unreadable_upstream_shows_the_last_known_state_and_polling_goes_on(
        self, client, designer, simulator, settings, syncing
    ):
        simulator.configure(job_seconds=60)
        run = make_run(designer, 2, 1)
        send_cells(run)
        wait_until(index_is_current, timeout=20, interval=0.1, message="the sync never reached the simulator")
        settings.SYNC_STALE_SECONDS = 1  # out of date after a second without an answer, not a minute
        simulator.configure(error_rate=1.0)

        def said_out_of_date():
            body = client.get(reverse("run", args=[run.pk])).content.decode()
            return body if "the generation service cannot be reached" in body else None

        body = wait_until(said_out_of_date, timeout=20, interval=0.3, message="the page never said it is out of date")
        assert "This shows the last known state and keeps checking." in body
        assert body.count("cell-running") == 2 and poll_url(body)

    def test_a_run_waiting_on_a_stopped_worker_says_so(self, client, designer):
        from dashboard.models import WorkerBeat
        from dashboard.runs import workers

        run = make_run(designer, 2, 1)
        workers.beat("worker-1")
        assert "background worker" not in client.get(reverse("run", args=[run.pk])).content.decode()
        WorkerBeat.objects.update(beat_at=WorkerBeat.objects.get().beat_at - workers.dead_after() * 2)
        body = client.get(reverse("run", args=[run.pk])).content.decode()
        assert "the background worker that sends runs is stopped" in body

    def test_cancel_keeps_unsent_jobs_from_being_sent(self, client, designer):
        run = make_run(designer, 2, 2)
        response = client.post(reverse("run_cancel", args=[run.pk]), follow=True)
        assert "Run cancelled: 4 jobs will not be sent." in response.content.decode()
        assert set(run.cells.values_list("state", flat=True)) == {RunCell.State.CANCELLED}
        assert f"{designer.username} cancelled the run: 4 cells not sent" in response.content.decode()

    def test_try_again_on_one_failed_cell(self, client, designer, simulator):
        run = make_run(designer, 2, 1)
        cell = run.cells.first()
        RunCell.objects.filter(pk=cell.pk).update(state=RunCell.State.NOT_SENT, problem="The service refused it.")
        RunCell.objects.exclude(pk=cell.pk).update(state=RunCell.State.CANCELLED)
        body = client.get(reverse("run", args=[run.pk])).content.decode()
        assert "The service refused it." in body and f'name="cell" value="{cell.pk}"' in body
        response = client.post(reverse("run_retry", args=[run.pk]), {"cell": cell.pk})
        assert response.status_code == 303 and response["Location"].endswith(f"#cell-{cell.pk}")
        cell.refresh_from_db()
        assert cell.state == RunCell.State.QUEUED and cell.attempt == 2
        page = client.get(reverse("run", args=[run.pk])).content.decode()
        assert f"{designer.username} tried 1 cell again" in page

    def test_trying_a_failed_result_again_is_in_that_results_activity(self, client, designer, simulator):
        run = make_run(designer, 1, 1)
        (failed,) = send_cells(run)
        Job.objects.filter(pk=failed.pk).update(status=Job.Status.ERROR)
        client.post(reverse("run_retry", args=[run.pk]))
        lightbox = client.get(reverse("history_item", args=[failed.history_item_id])).content.decode()
        assert f"{designer.username} tried it again" in lightbox

    def test_the_live_part_says_how_the_run_ended_and_the_opt_in_shows_while_it_runs(self, client, designer):
        # What a hidden tab is told when the run ends (static/js/runs.js and notify.js).
        run = make_run(designer, 2, 1)
        body = client.get(reverse("run", args=[run.pk])).content.decode()
        assert 'data-run-finished="false"' in body
        assert "Notify me when this run finishes" in body
        cell = run.cells.first()
        RunCell.objects.filter(pk=cell.pk).update(state=RunCell.State.NOT_SENT, problem="The service refused it.")
        RunCell.objects.exclude(pk=cell.pk).update(state=RunCell.State.CANCELLED)
        body = client.get(reverse("run", args=[run.pk])).content.decode()
        assert 'data-run-finished="true" data-run-done="0" data-run-failed="1" data-run-cancelled="1"' in body
        assert f'data-run-name="Run #{run.pk}" data-run-what="Fashion Swap"' in body
        assert "Notify me when this run finishes" not in body

    def test_an_unknown_run_is_a_clear_404(self, client, designer):
        response = client.get(reverse("run", args=[999]))
        assert response.status_code == 404 and "This run does not exist." in response.content.decode()


class TestTheListAndTheGallery:
    def test_runs_are_listed_newest_first_with_their_progress(self, client, designer):
        first, second = make_run(designer, 1, 1), make_run(designer, 2, 3)
        body = client.get(reverse("runs")).content.decode()
        assert body.index(f"Run #{second.pk}:") < body.index(f"Run #{first.pk}:")
        assert "0 of 6 done" in body and 'href="/runs/new"' in body

    def test_the_gallery_filters_by_run_and_its_lightbox_walks_the_run(self, client, designer, simulator):
        simulator.configure(job_seconds=60)
        run, other = make_run(designer, 2, 1), make_run(designer, 1, 1)
        ours = send_cells(run)
        send_cells(other)
        body = client.get(reverse("history"), {"run": run.pk}).content.decode()
        assert body.count('class="result-card') == 2
        assert f"Run #{run.pk}" in body and f'name="run" value="{run.pk}"' in body
        newest, oldest = ours[1], ours[0]
        detail = client.get(reverse("history_item", args=[newest.history_item_id]), {"run": run.pk}).content.decode()
        assert f"/history/{oldest.history_item_id}/?run={run.pk}" in detail  # → walks the run
        assert f'data-close-url="/history/?run={run.pk}"' in detail  # Esc comes back to it


def nav_link(body: str, direction: str) -> str | None:
    """Where the lightbox's ← or → leads (None: disabled)."""
    match = re.search(rf'href="([^"]+)" data-nav="{direction}"', body)
    return match.group(1).replace("&amp;", "&") if match else None


@pytest.fixture
def tried_again(client, designer, simulator):
    """A 2 x 2 run whose cell (0, 1) failed and was tried again: five results, four current.
    The cells' current jobs in matrix order, and the superseded one."""
    simulator.configure(job_seconds=60)
    run = make_run(designer, 2, 2)
    first = send_cells(run)
    failed = run.cells.get(row=0, column=1).job
    Job.objects.filter(pk=failed.pk).update(status=Job.Status.ERROR)
    client.post(reverse("run_retry", args=[run.pk]))
    send_cells(run)
    current = [cell.job for cell in run.cells.select_related("job").order_by("row", "column")]
    assert len(first) == 4 and failed not in current and len({job.pk for job in current}) == 4
    return run, current, failed


class TestReviewingARunAsASet:
    def test_the_run_filter_shows_current_attempts_and_earlier_ones_behind_an_option(self, client, tried_again):
        run, current, failed = tried_again
        body = client.get(reverse("history"), {"run": run.pk}).content.decode()
        assert body.count('class="result-card') == 4 and "4 results" in body
        assert f'id="card-{failed.history_item_id}"' not in body
        assert "Include earlier attempts" in body and 'value="all"' in body
        everything = client.get(reverse("history"), {"run": run.pk, "attempts": "all"}).content.decode()
        assert everything.count('class="result-card') == 5 and "5 results" in everything
        assert f'id="card-{failed.history_item_id}"' in everything

    def test_the_lightbox_from_the_run_page_walks_the_cells_row_by_row_and_closes_back_to_it(self, client, tried_again):
        run, current, failed = tried_again
        Job.objects.filter(pk__in=[job.pk for job in current]).update(status=Job.Status.COMPLETE)  # linked cells
        run_page = client.get(reverse("run", args=[run.pk])).content.decode()
        opened = f"/history/{current[0].history_item_id}/?run={run.pk}&amp;back=run"
        assert opened in run_page  # a cell's link
        walked, url = [], f"/history/{current[0].history_item_id}/?run={run.pk}&back=run"
        while url:
            body = client.get(url).content.decode()
            item_id = re.search(r'data-item-id="([^"]+)"', body).group(1)
            walked.append(item_id)
            cell = run.cells.get(job__history_item_id=item_id)
            assert f'data-close-url="/runs/{run.pk}/#cell-{cell.pk}"' in body  # Esc: back at that cell
            assert "Back to the run" in body
            url = nav_link(body, "next")
            if len(walked) == 1:
                assert nav_link(body, "previous") is None  # ← disabled on the first cell only
            elif url:
                assert nav_link(body, "previous") is not None
        assert walked == [job.history_item_id for job in current]  # matrix order, no earlier attempt
        assert nav_link(body, "previous") == f"/history/{current[2].history_item_id}/?run={run.pk}&back=run"

    def test_a_delete_in_the_lightbox_from_the_run_page_goes_on_to_the_next_cell_still_closing_to_the_run(
        self, client, tried_again
    ):
        run, current, failed = tried_again
        Job.objects.filter(pk__in=[job.pk for job in current]).update(status=Job.Status.COMPLETE)  # linked cells
        deleted, following = current[1].history_item_id, current[2].history_item_id
        response = client.post(
            reverse("history_delete", args=[deleted]) + f"?run={run.pk}&back=run",
            {"shown_in": "lightbox", "title": "Fashion Swap"},
            headers={"HX-Request": "true", "HX-Target": "gallery"},
        )
        body = response.content.decode()
        assert response["HX-Replace-Url"] == f"/history/{following}/?run={run.pk}&back=run"
        assert f'data-item-id="{following}"' in body
        cell = run.cells.get(job__history_item_id=following)
        assert f'data-close-url="/runs/{run.pk}/#cell-{cell.pk}"' in body  # Esc: still back at the run
        assert f'hx-post="/history/{deleted}/restore?run={run.pk}&amp;back=run"' in body  # and so does the Undo

    def test_the_gallerys_own_run_filter_closes_back_to_the_gallery(self, client, tried_again):
        run, current, failed = tried_again
        body = client.get(reverse("history_item", args=[current[1].history_item_id]), {"run": run.pk}).content.decode()
        assert f'data-close-url="/history/?run={run.pk}"' in body and "data-close-leaves" not in body
        assert nav_link(body, "previous") == f"/history/{current[0].history_item_id}/?run={run.pk}"
        assert nav_link(body, "next") == f"/history/{current[2].history_item_id}/?run={run.pk}"


class TestPrivateImagesOnARunPage:
    """A run's images are the team's once sent (a job's inputs are reviewed beside its
    result); until then, one private to the designer who started the run shows a
    teammate neither its name nor its picture."""

    def test_a_teammate_sees_private_image_where_the_owner_sees_its_name(self, client, designer, teammate):
        secret = library_image(designer, "clothes", "secret sample")
        InputImage.objects.filter(pk=secret.pk).update(private=True)
        secret.refresh_from_db()
        model = library_image(designer, "person", "studio model")
        tool = genapi.Tool(name="fashion_swap", title="Fashion Swap", group="fashion")
        run = runs.start_run(designer, tool=tool, style=None, rows=(GARMENT, [secret]), columns=(MODEL, [model]))

        own = client.get(reverse("run", args=[run.pk])).content.decode()
        assert "secret sample" in own

        client.force_login(teammate)
        page = client.get(reverse("run", args=[run.pk])).content.decode()
        poll = client.get(reverse("run_poll", args=[run.pk]), headers=HTMX).content.decode()
        for body in (page, poll):
            assert "secret sample" not in body
            assert "Private image" in body and "studio model" in body
            assert reverse("input_image", args=[secret.pk, "thumbnail"]) not in body


class TestNamingARun:
    """A run is known by the name the designers give it (issue 20, item 13): on its page,
    in the list, in the gallery's run filter and in its activity; "Run #N" while it has none."""

    def test_a_name_given_on_the_form_is_the_runs_heading_everywhere(self, client, designer):
        form = run_form(
            name="  Spring   dresses on the new models ",
            clothes=[garment_file("red.png")],
            person=[model_file("ines.png")],
        )
        response = client.post(reverse("new_run"), form)
        run = Run.objects.get()
        assert response.status_code == 303 and run.name == "Spring dresses on the new models"
        page = client.get(reverse("run", args=[run.pk])).content.decode()
        assert '<h1 id="run-title">Spring dresses on the new models</h1>' in page
        assert "Spring dresses on the new models · Nextry Studio</title>" in page
        assert f"Run #{run.pk}: Fashion Swap" in page  # what it is stays said under the name
        assert "Spring dresses on the new models</a>" in client.get(reverse("runs")).content.decode()
        gallery = client.get(reverse("history"), {"run": run.pk}).content.decode()
        assert f'<a href="/runs/{run.pk}/">Spring dresses on the new models</a>' in gallery

    def test_a_run_without_a_name_is_called_by_its_number(self, client, designer):
        run = make_run(designer, 1, 1)
        page = client.get(reverse("run", args=[run.pk])).content.decode()
        assert f'<h1 id="run-title">Run #{run.pk}: Fashion Swap</h1>' in page and "Name this run" in page

    def test_renamed_on_its_page_the_activity_says_who_named_it(self, client, designer):
        run = make_run(designer, 1, 1)
        response = client.post(reverse("run_rename", args=[run.pk]), {"name": "Linen, second try"}, follow=True)
        page = response.content.decode()
        assert '<h1 id="run-title">Linen, second try</h1>' in page and "Renamed: Linen, second try." in page
        assert "ada named the run “Linen, second try”" in page
        client.post(reverse("run_rename", args=[run.pk]), {"name": ""})
        run.refresh_from_db()
        assert run.name == ""
        page = client.get(reverse("run", args=[run.pk])).content.decode()
        assert (
            f'<h1 id="run-title">Run #{run.pk}: Fashion Swap</h1>' in page
            and "ada took the run&#x27;s name away" in page
        )

    def test_a_name_too_long_is_refused_as_typed_and_the_old_one_kept(self, client, designer):
        run = make_run(designer, 1, 1)
        runs.rename(run, designer, "Kept")
        typed = "A very long name " * 6
        response = client.post(reverse("run_rename", args=[run.pk]), {"name": typed})
        page = response.content.decode()
        assert response.status_code == 400
        assert "A run&#x27;s name has at most 80 characters (it has 101). The name was not changed." in page
        assert f'value="{typed}"' in page and '<details class="run-rename" open>' in page
        run.refresh_from_db()
        assert run.name == "Kept"

    def test_too_long_on_the_form_is_said_next_to_it_and_nothing_is_lost(self, client, designer):
        form = run_form(name="x" * 81, clothes=[garment_file("red.png")], person=[model_file("ines.png")])
        response = client.post(reverse("new_run"), form)
        page = response.content.decode()
        assert response.status_code == 400 and not Run.objects.exists()
        assert "A run&#x27;s name has at most 80 characters (it has 81)." in page
        assert 'value="' + "x" * 81 + '"' in page
        assert InputImage.objects.filter(kind="clothes").count() == 1  # the file kept, ticked

    def test_its_results_are_found_by_its_name_in_the_gallery_search(self, client, designer, simulator):
        run = make_run(designer, 1, 2)
        send_cells(run)
        runs.rename(run, designer, "Linen drapes")
        found = client.get(reverse("history"), {"q": "linen drapes"}).content.decode()
        assert found.count('class="result-card') == 2
        runs.rename(run, designer, "Velvet")
        assert 'class="result-card' not in client.get(reverse("history"), {"q": "linen"}).content.decode()
        assert client.get(reverse("history"), {"q": "velvet"}).content.decode().count('class="result-card') == 2
