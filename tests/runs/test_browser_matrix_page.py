"""A finished run's page as a designer reviews it on a laptop and a phone (issue 20, item
13): the matrix takes the laptop's width, the input photos show whole, ratings are thumbs
(not a round "✕" that reads as "close"); and the lightbox's before/after slider, which
needs JavaScript, is left out without it. The run is sent and synced for real."""

import pytest
from playwright.sync_api import expect

from dashboard.reviews import services as reviews
from tests.runs.test_pages import make_run, send_cells
from tests.support.browser import axe_violations, screenshot
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def finished_run(designer, on_simulator, settings, syncing):
    """Two garments on four model photos, every job done and in the index; the first
    result liked, the second disliked."""
    settings.RUN_SENDS_PER_MINUTE = 60_000
    run = make_run(designer, garments=2, models=4)
    jobs = send_cells(run)
    from dashboard.models import IndexedResult

    wait_until(
        lambda: (
            IndexedResult.objects.filter(
                history_item_id__in=[job.history_item_id for job in jobs], status="complete"
            ).count()
            == len(jobs)
        ),
        timeout=60,
        message="the run's eight results in the index",
    )
    reviews.rate(designer, jobs[0].history_item_id, True)
    reviews.rate(designer, jobs[1].history_item_id, False)
    return run


def test_the_matrix_takes_a_laptops_width_shows_inputs_whole_and_ratings_as_thumbs(
    signed_in_page, live_app, finished_run
):
    page = signed_in_page
    page.set_viewport_size(LAPTOP)
    page.goto(f"{live_app.url}/runs/{finished_run.pk}/")
    matrix = page.locator("table.matrix")
    expect(matrix.locator("td.cell-done")).to_have_count(8)

    content = page.evaluate(
        "(() => { const main = document.querySelector('main'); const style = getComputedStyle(main);"
        " return main.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight); })()"
    )
    assert matrix.bounding_box()["width"] >= 0.85 * content, "four columns leave most of the laptop's width empty"
    scroll = page.locator(".matrix-scroll")
    assert scroll.evaluate("node => node.scrollWidth <= node.clientWidth"), "four columns scroll on a laptop"
    assert matrix.locator(".cell-result img").first.bounding_box()["width"] >= 240

    edges = page.locator(".matrix-edge img")
    expect(edges).to_have_count(6)
    assert edges.evaluate_all("images => images.map(image => getComputedStyle(image).objectFit)") == ["contain"] * 6

    liked = matrix.locator(".cell-like:not(.cell-disliked)")
    disliked = matrix.locator(".cell-like.cell-disliked")
    expect(liked).to_have_count(1)
    expect(disliked).to_have_count(1)
    assert disliked.locator("use").get_attribute("href").endswith("#dislike")
    assert liked.locator("use").get_attribute("href").endswith("#like")
    expect(disliked).not_to_contain_text("✕")
    assert axe_violations(page) == []
    screenshot(page, "run-finished-1440")

    page.get_by_text("Name this run").click()
    page.get_by_label(f"Name of run #{finished_run.pk}").fill("Red dresses on four models")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Red dresses on four models")
    expect(page.get_by_text(f"Run #{finished_run.pk}: Fashion Swap")).to_be_visible()
    page.get_by_text("Rename", exact=True).click()
    assert axe_violations(page) == []
    screenshot(page, "run-named-1440")

    page.set_viewport_size(PHONE)
    assert scroll.evaluate("node => node.scrollWidth > node.clientWidth"), "on a phone the matrix scrolls in its box"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        "the page itself scrolls sideways"
    )
    screenshot(page, "run-finished-390")


def test_new_files_for_a_run_show_whole_in_their_previews(signed_in_page, live_app, tmp_path):
    from tests.support.corpus import garment_photo

    wide = tmp_path / "long-scarf.png"
    wide.write_bytes(garment_photo(size=(900, 300)))
    page = signed_in_page
    page.goto(live_app.url + "/runs/new?tool=fashion_swap")
    page.get_by_label("Choose new garment files").set_input_files(wide)
    preview = page.locator('[data-run-slot="clothes"] [data-new-files] li img')
    expect(preview).to_have_count(1)
    assert preview.evaluate("image => getComputedStyle(image).objectFit") == "contain"


def test_the_before_and_after_slider_shows_only_where_it_works(page, signed_in_page, live_app, finished_run, browser):
    from dashboard.models import Job

    item = Job.objects.filter(run=finished_run).order_by("created_at", "id").last().history_item_id
    signed_in_page.goto(f"{live_app.url}/history/{item}/")
    slider = signed_in_page.get_by_label("Compare the input and the result")
    expect(slider).to_be_visible()
    slider.fill("30")
    reveal = signed_in_page.locator("[data-compare]").evaluate("node => node.style.getPropertyValue('--reveal')")
    assert reveal == "30%"

    context = browser.new_context(java_script_enabled=False)
    context.add_cookies(signed_in_page.context.cookies())
    without = context.new_page()
    without.goto(f"{live_app.url}/history/{item}/")
    expect(without.get_by_alt_text("Result: Fashion Swap")).to_be_visible()
    expect(without.get_by_label("Compare the input and the result")).to_be_hidden()
    assert axe_violations(signed_in_page) == []
    context.close()
