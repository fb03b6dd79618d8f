"""Downloading ZIPs in a real Chromium: "Download selected" in the gallery's bulk bar
saves an archive (a plain form post, not htmx: the page stays as it was), a selection
with nothing to download says so, and a run's download that cannot start shows a page
that says why. Each state is checked with axe and photographed at desktop and phone size.
The seeded results are indexed first (`catch_up`), as the sync process would have."""

import io
import zipfile

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from dashboard.models import Job, RunCell
from tests.factories import InputImageFactory, JobFactory, RunCellFactory, RunFactory
from tests.support.browser import axe_violations, screenshot
from tests.support.index import catch_up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def seeded_simulator(tmp_path_factory):
    from tests.support.simulator import SimulatorProcess

    with SimulatorProcess(tmp_path_factory.mktemp("downloads-browser-sim")) as process:
        process.seed(30)
        yield process


@pytest.fixture
def synced(settings, seeded_simulator):
    """Django pointed at the seeded simulator, whose history the sync has read."""
    settings.GENAPI_BASE_URL = seeded_simulator.base_url
    settings.GENAPI_API_KEY = seeded_simulator.api_key
    catch_up()
    return seeded_simulator


@pytest.fixture
def gallery_page(signed_in_page, synced):
    return signed_in_page


def phone(browser, live_server, client, designer):
    client.force_login(designer)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    return context


def test_download_selected_saves_a_zip_of_the_chosen_results_and_the_page_stays(gallery_page, live_server):
    page = gallery_page
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(live_server.url + "/history/")
    boxes = page.locator(".result-card.status-complete [data-select]")
    chosen = [boxes.nth(index).get_attribute("value") for index in range(3)]
    for index in range(3):
        boxes.nth(index).check()
    expect(page.get_by_text("3 selected")).to_be_visible()
    button = page.get_by_role("button", name="Download selected")
    expect(button).to_be_enabled()
    assert axe_violations(page) == []
    screenshot(page, "history-download-selected-1280")

    with page.expect_download() as waiting:
        button.click()
    download = waiting.value

    assert download.suggested_filename.startswith("selection-") and download.suggested_filename.endswith(".zip")
    with open(download.path(), "rb") as saved, zipfile.ZipFile(io.BytesIO(saved.read())) as zipped:
        names = zipped.namelist()
        assert names[-1] == "manifest.csv"
        assert [name.rsplit("__", 1)[-1] for name in names[:-1]] == [f"{item_id}.png" for item_id in chosen]
        assert all(zipped.read(name).startswith(b"\x89PNG") for name in names[:-1])
    # Saved, not navigated: the gallery and the selection are as they were.
    expect(page).to_have_url(live_server.url + "/history/")
    expect(page.get_by_text("3 selected")).to_be_visible()
    assert page.console_errors == []


def test_a_selection_with_nothing_to_download_says_so_in_the_gallery(gallery_page, live_server):
    page = gallery_page
    page.goto(live_server.url + "/history/?status=error")
    page.locator(".result-card [data-select]").first.check()

    page.get_by_role("button", name="Download selected").click()

    expect(page.get_by_text("None of the selected results has a finished image to download.")).to_be_visible()
    expect(page).to_have_url(live_server.url + "/history/?status=error")  # the filters are kept
    assert axe_violations(page) == []
    screenshot(page, "history-download-nothing-1280")


@pytest.fixture
def unliked_run(designer, seeded_simulator, synced):
    """A run of one finished cell whose result nobody liked."""
    import requests

    listing = requests.get(
        f"{seeded_simulator.base_url}/user/generation-history",
        params={"status": "complete", "limit": 100},
        headers=seeded_simulator.headers,
        timeout=5,
    ).json()
    item_id = next(item["id"] for item in listing["items"] if item.get("like") is not True)
    image = InputImageFactory(owner=designer, original_name="a.png")
    run = RunFactory(designer=designer)
    job = JobFactory(history_item_id=item_id, designer=designer, status=Job.Status.COMPLETE, run=run)
    RunCellFactory(run=run, row=0, column=0, row_image=image, job=job, state=RunCell.State.SENT)
    return run


def test_a_liked_download_of_a_run_nobody_liked_explains_itself(
    gallery_page, live_server, unliked_run, browser, client, designer
):
    page = gallery_page
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/runs/{unliked_run.pk}/download?liked=1&next=/history/")

    expect(page.get_by_role("heading", name="Nothing was downloaded")).to_be_visible()
    expect(page.get_by_text("None of this run's results is liked yet.")).to_be_visible()
    expect(page.get_by_role("link", name="Back")).to_have_attribute("href", "/history/")
    assert axe_violations(page) == []
    screenshot(page, "download-problem-1280")

    context = phone(browser, live_server, client, designer)
    small = context.new_page()
    small.goto(f"{live_server.url}/runs/{unliked_run.pk}/download?liked=1&next=/history/")
    expect(small.get_by_role("heading", name="Nothing was downloaded")).to_be_visible()
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    assert axe_violations(small) == []
    screenshot(small, "download-problem-390")
    small.goto(live_server.url + "/history/")
    small.locator(".result-card.status-complete [data-select]").first.check()
    expect(small.get_by_role("button", name="Download selected")).to_be_enabled()
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    assert axe_violations(small) == []
    screenshot(small, "history-download-selected-390")
    context.close()
