"""A matrix run in a real Chromium, sent by a real background worker to the real simulator:
4 garments × 3 model photos, one job failing on purpose and tried again, two results
liked in the lightbox, and the liked ZIP holding exactly those two."""

import re
import zipfile

import pytest
import requests
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from dashboard.models import InputImage, Job, Run
from tests.support.browser import axe_violations, screenshot, small_targets, unringed_focus_stops
from tests.support.corpus import encode
from tests.support.worker import WorkerProcess

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GARMENT_COLOURS = {
    "red-dress": (200, 40, 60),
    "blue-shirt": (40, 80, 190),
    "green-coat": (40, 140, 80),
    "ochre-top": (200, 150, 40),
}
MODEL_SHADES = {"ines": (60, 70, 90), "tom": (90, 60, 50), "mika": (40, 40, 40)}


def garment(colour) -> bytes:
    image = Image.new("RGB", (400, 460), (245, 245, 245))
    draw = ImageDraw.Draw(image)
    draw.polygon(
        [(100, 46), (300, 46), (380, 138), (300, 161), (300, 437), (100, 437), (100, 161), (20, 138)], fill=colour
    )
    for y in range(60, 430, 24):  # a woven stripe: textured, like a real garment photo
        draw.line([(100, y), (300, y)], fill=tuple(max(0, part - 40) for part in colour), width=3)
    return encode(image, "PNG")


def model(shade) -> bytes:
    """A figure on a gradient backdrop: the simulator fails a flat, one-colour subject."""
    image = Image.linear_gradient("L").resize((480, 640)).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse((192, 64, 288, 180), fill=(224, 180, 150))
    draw.rectangle((158, 180, 322, 500), fill=shade)
    return encode(image, "JPEG")


@pytest.fixture
def photos(tmp_path):
    garments, models = [], []
    for name, colour in GARMENT_COLOURS.items():
        path = tmp_path / f"{name}.png"
        path.write_bytes(garment(colour))
        garments.append(path)
    for name, shade in MODEL_SHADES.items():
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(model(shade))
        models.append(path)
    return garments, models


def upstream_like(simulator, item_id: str) -> bool | None:
    response = requests.get(
        f"{simulator.base_url}/user/generation-history/{item_id}",
        headers={"Authorization": f"Bearer {simulator.api_key}"},
        timeout=5,
    )
    body = response.json()
    return body.get("item", body).get("like")


def test_four_garments_on_three_models_fill_the_matrix_live_one_fails_is_tried_again_and_the_liked_download(
    signed_in_page, live_app, photos, simulator, settings, syncing
):
    page = signed_in_page
    garments, models = photos
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(live_app.url + "/runs/new?tool=fashion_swap")
    expect(page.get_by_role("heading", name="New run")).to_be_visible()

    page.get_by_label("Choose new garment files").set_input_files(garments[:2])
    page.get_by_label("Choose new garment files").set_input_files(garments[2:])  # a second choice adds to the first
    page.get_by_label("Choose new model photo files").set_input_files(models)
    garment_files = page.locator('[data-run-slot="clothes"] [data-new-files] li')
    expect(garment_files).to_have_count(4)
    expect(page.locator("[data-run-count]")).to_have_text("4 garments × 3 model photos = 12 jobs")
    # Removing one takes it out of what is sent; choosing it again puts it back.
    page.get_by_role("button", name="Remove ochre-top.png from the garment files").click()
    expect(garment_files).to_have_count(3)
    expect(page.locator("[data-run-count]")).to_have_text("3 garments × 3 model photos = 9 jobs")
    page.get_by_label("Choose new garment files").set_input_files(garments[3])
    expect(page.locator("[data-run-count]")).to_have_text("4 garments × 3 model photos = 12 jobs")
    assert axe_violations(page) == []
    screenshot(page, "runs-new-1280")

    simulator.configure(job_seconds=2, fail_next=1)  # the first job sent fails
    with WorkerProcess(settings, sends_per_minute=600):
        page.get_by_role("button", name="Start run").click()
        expect(page).to_have_url(re.compile(r"/runs/\d+/$"))
        run = Run.objects.get()
        assert InputImage.objects.filter(kind="clothes", in_library=True).count() == 4
        expect(page.get_by_role("heading", name=f"Run #{run.pk}: Fashion Swap")).to_be_visible()
        matrix = page.locator("table.matrix")
        expect(matrix.locator("tbody tr")).to_have_count(4)
        expect(matrix.locator("td.matrix-cell")).to_have_count(12)
        started = page.locator("#page-messages").get_by_text("Run started: 12 jobs.")
        expect(started).to_be_visible()

        # The matrix fills in live, polled by htmx, as the sync process sees the jobs end.
        expect(matrix.locator("td.cell-done").first).to_be_visible(timeout=30_000)
        screenshot(page, "run-midway-1280")
        page.set_viewport_size({"width": 390, "height": 844})
        screenshot(page, "run-midway-390")
        page.set_viewport_size({"width": 1280, "height": 800})
        assert axe_violations(page) == []
        expect(matrix.locator("td.cell-done")).to_have_count(11, timeout=60_000)
        failed = matrix.locator("td.cell-failed")
        expect(failed).to_have_count(1)
        finished = page.get_by_text("This run has finished; 1 job failed and can be tried again.")
        expect(finished).to_be_visible()
        expect(finished).to_have_class(re.compile(r"\bnotice-warning\b"))  # not announced in green
        expect(started).to_have_count(0)  # the banner of its start went with it

        failed.get_by_role("button", name=re.compile(r"^Try again")).click()
        expect(page.get_by_text("1 job will be sent again.")).to_be_visible()
        expect(matrix.locator("td.cell-done")).to_have_count(12, timeout=60_000)
        expect(page.get_by_text("This run has finished.")).to_be_visible()
        expect(page.get_by_text(re.compile(r"tried 1 cell again"))).to_be_visible()  # its activity
        expect(page.locator(".run-activity li")).to_have_count(1)  # once, not again per result
        screenshot(page, "run-finished-activity-1280")
    assert Job.objects.filter(run=run).count() == 13  # the failed attempt stays in History
    assert axe_violations(page) == []
    screenshot(page, "run-finished-1280")
    assert small_targets(page) == []
    assert unringed_focus_stops(page, 30) == []
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "run-finished-390")
    page.set_viewport_size({"width": 1280, "height": 800})

    # Each cell opens the gallery's lightbox, which walks this run's results.
    first_cell = matrix.locator("td.cell-done a").first
    first_cell.click()
    expect(page).to_have_url(re.compile(rf"/history/[^/]+/\?run={run.pk}&back=run$"))
    lightbox = page.locator("dialog[data-lightbox]")
    expect(lightbox).to_have_attribute("data-modal", "1")  # gallery.js has taken it over: keys work
    first_id = lightbox.get_attribute("data-item-id")
    page.keyboard.press("l")
    expect(lightbox.locator("[data-feedback=like]").first).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("ArrowRight")
    expect(lightbox).not_to_have_attribute("data-item-id", first_id)
    expect(lightbox).to_have_attribute("data-modal", "1")
    second_id = lightbox.get_attribute("data-item-id")
    page.keyboard.press("l")
    expect(page.locator("dialog[data-lightbox] [data-feedback=like]").first).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Escape")  # back to the run page, at the cell last shown
    expect(page).to_have_url(re.compile(rf"/runs/{run.pk}/#cell-\d+$"))
    # History's run filter: one card per cell; the failed attempt behind the option.
    page.goto(live_app.url + f"/history/?run={run.pk}")
    expect(page.get_by_role("link", name=f"Run #{run.pk}", exact=True)).to_be_visible()
    expect(page.locator(".result-card")).to_have_count(12)
    page.goto(live_app.url + f"/history/?run={run.pk}&attempts=all")
    expect(page.locator(".result-card")).to_have_count(13)

    run_items = Job.objects.filter(run=run).values_list("history_item_id", flat=True)
    assert {item_id for item_id in run_items if upstream_like(simulator, item_id)} == {first_id, second_id}

    page.goto(live_app.url + f"/runs/{run.pk}/")
    expect(page.locator("td.cell-done .cell-like:not(.cell-disliked)")).to_have_count(2)
    assert axe_violations(page) == []  # with its download links
    # The liked ZIP from the run page holds exactly the two liked results, by their inputs.
    with page.expect_download() as started:
        page.get_by_role("link", name="Download liked (ZIP)").click()
    archive = zipfile.ZipFile(started.value.path())
    liked_cells = {
        cell.job.history_item_id: cell for cell in run.cells.select_related("job", "row_image", "column_image")
    }
    expected = sorted(
        f"fashion-swap__{liked_cells[item_id].row_image.name}__{liked_cells[item_id].column_image.name}__{item_id}.png"
        for item_id in (first_id, second_id)
    )
    assert sorted(name for name in archive.namelist() if name != "manifest.csv") == expected
    assert "manifest.csv" in archive.namelist()
    for item_id in (first_id, second_id):
        (name,) = [name for name in archive.namelist() if item_id in name]
        stock = requests.get(
            f"{simulator.base_url}/image/generation_result/{item_id}.png", headers=simulator.headers, timeout=10
        )
        assert archive.read(name) == stock.content
    page.goto(live_app.url + "/runs/")
    expect(page.get_by_role("link", name=f"Run #{run.pk}: Fashion Swap")).to_be_visible()
    expect(page.get_by_text("12 of 12 done")).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "runs-list-1280")
    assert page.console_errors == []


def test_a_refused_file_is_named_and_the_good_ones_stay_ticked(signed_in_page, live_app, photos, tmp_path):
    page = signed_in_page
    garments, models = photos
    notes = tmp_path / "notes.png"
    notes.write_bytes(b"These are my notes, not a picture.\n" * 20)
    page.goto(live_app.url + "/runs/new?tool=fashion_swap")
    page.get_by_label("Choose new garment files").set_input_files([garments[0], notes])
    page.get_by_label("Choose new model photo files").set_input_files(models[0])
    page.get_by_role("button", name="Start run").click()

    errors = page.locator("#form-errors")
    expect(errors).to_contain_text("1 file was refused, so no run was started.")
    expect(errors).to_contain_text("notes.png")
    expect(page.locator("[data-run-count]")).to_have_text("1 garment × 1 model photo = 1 job")
    expect(page.locator('[data-run-slot="clothes"] [data-pick]:checked')).to_have_count(1)
    assert not Run.objects.exists()
    assert axe_violations(page) == []
    screenshot(page, "runs-new-refused-1280")
    assert small_targets(page) == []
    assert unringed_focus_stops(page, 40) == []
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "runs-new-refused-390")

    # A library search (Enter in it) searches in place: the run is not started, the tick stays.
    page.set_viewport_size({"width": 1280, "height": 800})
    search = page.get_by_role("searchbox", name="From the library").first
    search.fill("no such garment")
    search.press("Enter")
    expect(page.locator('[data-run-slot="clothes"] .pick-card')).to_have_count(1)
    expect(page.locator('[data-run-slot="clothes"] [data-pick]:checked')).to_have_count(1)
    assert not Run.objects.exists()

    page.get_by_role("button", name="Start run").click()
    expect(page).to_have_url(re.compile(r"/runs/\d+/$"))
    assert Run.objects.get().cells.count() == 1


def test_a_run_reviewed_as_a_set_with_the_arrow_keys_and_esc_back_to_the_run(
    signed_in_page, live_app, designer, simulator, settings, syncing
):
    """A 2 x 2 run whose first cell failed and was tried again: from the run page the
    lightbox walks the four current results row by row and Esc lands back on the cell;
    History's run filter shows four cards, five with the earlier attempt."""
    from dashboard.runs import services as runs
    from tests.runs.test_pages import make_run, send_cells
    from tests.support.waiting import wait_until

    settings.RUN_SENDS_PER_MINUTE = 60_000
    simulator.configure(job_seconds=1, fail_next=1)  # the first job sent fails
    run = make_run(designer, 2, 2)
    send_cells(run)
    first = run.cells.get(row=0, column=0)
    failed = first.job
    wait_until(lambda: Job.objects.get(pk=failed.pk).status == Job.Status.ERROR, timeout=30, message="no failure")
    assert runs.retry(run, designer) == 1
    send_cells(run)
    cells = list(run.cells.select_related("job").order_by("row", "column"))
    assert failed.pk not in [cell.job_id for cell in cells]

    def all_done() -> bool:
        return set(Job.objects.filter(pk__in=[cell.job_id for cell in cells]).values_list("status", flat=True)) == {
            Job.Status.COMPLETE
        }

    wait_until(all_done, timeout=30, message="the run's jobs never finished")

    page = signed_in_page
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_app.url}/runs/{run.pk}/")
    page.locator(f"#cell-{cells[0].pk} a.cell-result").click()
    dialog = page.locator("dialog[data-lightbox]")
    expect(dialog).to_have_attribute("data-item-id", cells[0].job.history_item_id)
    # A page of its own: keys work once gallery.js has taken the dialog over (a key
    # pressed before that, as CI's busy machine once did, goes nowhere).
    expect(dialog).to_have_attribute("data-modal", "1")
    expect(dialog.locator("[data-nav=previous]")).to_have_count(0)  # ← disabled on the first cell
    for cell in cells[1:]:
        expect(dialog.locator("[data-nav=next]")).to_have_count(1)
        page.keyboard.press("ArrowRight")
        expect(dialog).to_have_attribute("data-item-id", cell.job.history_item_id)
        expect(dialog).to_have_attribute("data-modal", "1")
    expect(dialog.locator("[data-nav=next]")).to_have_count(0)  # → disabled on the last one only
    expect(dialog.locator("[data-nav=previous]")).to_have_count(1)
    assert axe_violations(page) == []
    screenshot(page, "run-lightbox-last-cell-1280")
    page.keyboard.press("ArrowLeft")
    expect(dialog).to_have_attribute("data-item-id", cells[2].job.history_item_id)
    page.keyboard.press("Escape")
    expect(page).to_have_url(f"{live_app.url}/runs/{run.pk}/#cell-{cells[2].pk}")
    expect(page.get_by_role("heading", name=f"Run #{run.pk}: Fashion Swap")).to_be_visible()
    assert axe_violations(page) == []

    page.goto(f"{live_app.url}/history/?run={run.pk}")
    expect(page.locator("[data-card]")).to_have_count(4)
    page.get_by_text("Include earlier attempts").click()
    expect(page.locator("[data-card]")).to_have_count(5)
    expect(page).to_have_url(re.compile(r"attempts=all"))
    assert axe_violations(page) == []
    screenshot(page, "run-filter-earlier-attempts-1280")
