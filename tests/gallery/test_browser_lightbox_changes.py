"""Changes made in the History lightbox keep the designer in the review, in a real
Chromium against a real simulator with the sync process running:

- Run again: the new job shows in the lightbox, running, then done (followed live as
  the gallery's running cards are), while the lightbox stays on the result it came from;
  a photo the designer may not use is refused there, saying why.
- Delete: the lightbox moves on to the next result with an Undo inside the dialog
  (focused, announced); Undo brings the result back into the lightbox and the grid.
"""

import re

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import Route, expect

from dashboard.core.slots import Slot
from dashboard.core.tokens import new as new_token
from dashboard.jobs import services as jobs
from dashboard.models import IndexedResult, InputImage, Review, TrashedResult
from tests.support.browser import SCREENSHOTS, axe_violations
from tests.support.index import catch_up
from tests.support.library import library_image
from tests.support.sync import sync_running
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LAPTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    from tests.support.simulator import SimulatorProcess

    with SimulatorProcess(tmp_path_factory.mktemp("lightbox-sim"), env={"SIMULATOR_FAIL_RATE": "0"}) as process:
        process.seed(12)
        yield process


@pytest.fixture
def review_page(browser, live_server, settings, simulator, designer, client):
    settings.GENAPI_BASE_URL = simulator.base_url
    settings.GENAPI_API_KEY = simulator.api_key
    simulator.configure(job_seconds=1.0, fail_rate=0.0, error_rate=0.0)
    catch_up()
    context = browser.new_context(viewport=LAPTOP)
    context.set_default_timeout(10_000)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    with sync_running(settings):
        yield context.new_page()
    context.close()


def both_widths(page, name: str, showing=None) -> None:
    """The state as a laptop and a phone show it (var/screenshots/<name>-1440/-390.png):
    the screen, not the whole page, which the modal covers only as far as the screen goes."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(LAPTOP)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-1440.png"))
    page.set_viewport_size(PHONE)
    if showing is not None:  # the dialog scrolls on a phone: the part this state is about
        showing.scroll_into_view_if_needed()
    assert axe_violations(page) == []
    page.screenshot(path=str(SCREENSHOTS / f"{name}-390.png"))
    page.set_viewport_size(LAPTOP)


def job_made_here(designer, **photo_fields) -> str:
    """A Fashion Swap job sent through the dashboard (so it can be run again), finished
    and indexed: its id."""
    garment = library_image(designer, "clothes", "red-dress")
    model = library_image(designer, "person", "anna")
    InputImage.objects.filter(pk=model.pk).update(**photo_fields)
    inputs = [(Slot(name="clothes", label="Garment"), garment), (Slot(name="person", label="Model photo"), model)]
    job = jobs.send_job(designer, tool="fashion_swap", tool_title="Fashion Swap", inputs=inputs, token=new_token())
    wait_until(
        lambda: job.__class__.objects.get(pk=job.pk).status != "pending",
        timeout=20,
        interval=0.2,
        message="the job to end",
    )
    return job.history_item_id


def open_lightbox(page, live_server, item_id: str):
    page.goto(f"{live_server.url}/history/{item_id}/")
    dialog = page.locator("dialog[data-lightbox]")
    expect(dialog).to_have_attribute("data-modal", "1")
    return dialog


class TestRunAgainInTheLightbox:
    def test_the_new_job_shows_in_the_lightbox_running_then_done(self, review_page, live_server, simulator, designer):
        page = review_page
        original = job_made_here(designer)
        dialog = open_lightbox(page, live_server, original)
        simulator.configure(job_seconds=10.0)  # long enough to be seen running

        dialog.get_by_role("button", name="Run again").click()
        reruns = dialog.locator("#lightbox-reruns")
        expect(reruns.get_by_role("status")).to_have_text("Sent again: the new result shows here.")
        tile = reruns.locator(".rerun")
        expect(tile).to_have_count(1)
        expect(tile.locator(".badge")).to_have_text("Running")
        # Still the review of the result it came from, at its own address.
        expect(page).to_have_url(re.compile(rf"/history/{original}/$"))
        expect(dialog).to_have_attribute("data-item-id", original)
        expect(dialog.get_by_role("button", name="Run again")).to_be_focused()
        assert axe_violations(page) == []
        both_widths(page, "lightbox-run-again-running", reruns)

        expect(tile.locator(".badge")).to_have_text("Done", timeout=30_000)
        expect(tile.locator("img")).to_be_visible()
        expect(reruns.get_by_role("status")).to_have_text("The result run again is done.")
        assert axe_violations(page) == []
        both_widths(page, "lightbox-run-again-done", reruns)

        # The new result opens in the lightbox; the one it came from lists it still.
        new_id = tile.locator("a").get_attribute("id").removeprefix("rerun-")
        tile.locator("a").click()
        expect(dialog).to_have_attribute("data-item-id", new_id)
        expect(page).to_have_url(re.compile(rf"/history/{new_id}/"))

    def test_a_key_pressed_while_the_running_one_is_asked_after_acts_when_it_is_answered(
        self, review_page, live_server, simulator, designer
    ):
        # The lightbox holds a key pressed while one of its requests runs until that
        # request's answer is drawn; the poll of a job still running draws nothing (204).
        page = review_page
        original = job_made_here(designer)
        dialog = open_lightbox(page, live_server, original)
        simulator.configure(job_seconds=60.0)
        dialog.get_by_role("button", name="Run again").click()
        expect(dialog.locator("#lightbox-reruns .rerun .badge")).to_have_text("Running")
        following = re.search(r"/history/(\w+)/", dialog.locator("[data-nav=next]").get_attribute("href")).group(1)

        polls: list[Route] = []
        page.route(re.compile(r"[?&]running="), lambda route: polls.append(route), times=1)
        wait_until(lambda: page.wait_for_timeout(50) or polls, timeout=10, message="the running job to be asked after")
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(200)
        expect(dialog).to_have_attribute("data-item-id", original)  # held while the poll runs
        polls[0].continue_()
        expect(dialog).to_have_attribute("data-item-id", following)

    def test_a_photo_the_designer_may_not_use_is_refused_in_the_lightbox(
        self, review_page, live_server, designer, bob, simulator
    ):
        page = review_page
        original = job_made_here(designer)
        InputImage.objects.filter(uses__job__history_item_id=original, kind="person").update(owner=bob, private=True)
        requests_before = len([entry for entry in simulator.requests() if entry["method"] == "POST"])
        page.set_viewport_size(PHONE)
        dialog = open_lightbox(page, live_server, original)

        dialog.get_by_role("button", name="Run again").click()
        alert = dialog.get_by_role("alert")
        expect(alert).to_contain_text("Nothing was sent: the model photo of this job is not available to you")
        expect(alert).to_be_in_viewport()  # on a phone, below the button: brought up
        expect(dialog).to_have_attribute("data-item-id", original)
        expect(dialog.locator(".rerun")).to_have_count(0)
        assert len([entry for entry in simulator.requests() if entry["method"] == "POST"]) == requests_before
        assert axe_violations(page) == []
        both_widths(page, "lightbox-run-again-refused", alert)


class TestDeleteInTheLightbox:
    def test_delete_moves_on_to_the_next_result_and_undo_brings_it_back(self, review_page, live_server):
        page = review_page
        page.goto(live_server.url + "/history/")
        cards = page.locator("#results > [data-card]")
        expect(cards.first).to_be_visible()
        ids = [card_id.removeprefix("card-") for card_id in cards.evaluate_all("cards => cards.map(c => c.id)")]
        deleted, following = ids[3], ids[4]
        page.locator(f"#card-{deleted} .result-media").click()
        dialog = page.locator("dialog[data-lightbox]")
        expect(dialog).to_have_attribute("data-item-id", deleted)

        page.keyboard.press("Delete")
        expect(dialog).to_have_attribute("data-item-id", following)
        expect(dialog).to_have_attribute("data-modal", "1")
        undo = dialog.get_by_role("button", name="Undo")
        expect(undo).to_be_focused()
        expect(dialog.get_by_role("status").filter(has_text="Moved to the trash")).to_be_visible()
        expect(page).to_have_url(re.compile(rf"/history/{following}/"))
        expect(page.locator(f"#card-{deleted}")).to_have_count(0)  # the grid behind
        assert TrashedResult.objects.filter(history_item_id=deleted).exists()
        assert axe_violations(page) == []
        both_widths(page, "lightbox-deleted-with-undo")

        page.keyboard.press("Enter")
        expect(dialog).to_have_attribute("data-item-id", deleted)
        expect(dialog.get_by_role("status").filter(has_text="Restored.")).to_be_visible()
        expect(page).to_have_url(re.compile(rf"/history/{deleted}/"))
        assert not TrashedResult.objects.filter(history_item_id=deleted).exists()
        assert axe_violations(page) == []
        both_widths(page, "lightbox-after-undo")

        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        expect(page.locator(f"#card-{deleted} .result-media")).to_be_focused()
        expect(page).to_have_url(live_server.url + "/history/")

    def test_after_a_delete_closing_shows_the_grid_without_it(self, review_page, live_server):
        page = review_page
        page.goto(live_server.url + "/history/")
        cards = page.locator("#results > [data-card]")
        expect(cards.first).to_be_visible()
        ids = [card_id.removeprefix("card-") for card_id in cards.evaluate_all("cards => cards.map(c => c.id)")]
        page.locator(f"#card-{ids[0]} .result-media").click()
        dialog = page.locator("dialog[data-lightbox]")
        expect(dialog).to_have_attribute("data-item-id", ids[0])
        dialog.get_by_role("button", name="Delete").click()
        expect(dialog).to_have_attribute("data-item-id", ids[1])

        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        expect(page.locator(f"#card-{ids[0]}")).to_have_count(0)
        expect(page.locator(f"#card-{ids[1]} .result-media")).to_be_focused()
        assert not page.evaluate("document.documentElement.classList.contains('has-lightbox')")


def unrated_result() -> str:
    row = IndexedResult.objects.filter(status="complete", in_trash=False, rating=IndexedResult.Rating.UNRATED).first()
    assert row is not None, "the seeded history has no unrated result left"
    return row.history_item_id


def ask_news_and_hold_it(page) -> Route:
    """Asks the gallery's news now (as the server's push does) and holds the request
    before it reaches the server: the test lets it through, and answers it, when it likes."""
    held: list[Route] = []
    page.route(re.compile(r"/history/news\?"), lambda route: held.append(route))
    page.evaluate("htmx.trigger(document.getElementById('gallery-news'), 'live-refresh')")
    wait_until(lambda: page.wait_for_timeout(50) or held, timeout=10, message="the news to be asked")
    return held[0]


def news_answered(page, route: Route, response) -> None:
    page.evaluate(
        """() => { window.newsAnswered = false;
        document.getElementById('gallery-news').addEventListener('htmx:afterRequest',
          () => { window.newsAnswered = true; }, { once: true }); }"""
    )
    route.fulfill(response=response)
    page.wait_for_function("window.newsAnswered === true")
    page.wait_for_timeout(100)  # its swaps settle (htmx's 20 ms)


class TestNewsAnsweredLate:
    """News asked before the designer's own change and answered after it draws an older
    review; it must not replace the newer one the page shows (CI saw a reason chosen
    shown as not chosen, and pressing it again would have taken it back)."""

    def test_a_reason_chosen_meanwhile_stays_chosen(self, review_page, live_server):
        page = review_page
        item_id = unrated_result()
        dialog = open_lightbox(page, live_server, item_id)
        late = ask_news_and_hold_it(page)  # the page shows the result unrated

        page.keyboard.press("d")
        expect(dialog.locator("[data-reason-key]")).to_have_count(len(Review.Reason))
        answer = late.fetch()  # the server reads it now: disliked, no reason yet
        page.keyboard.press("6")
        colour = dialog.get_by_role("button", name="Colour off")
        expect(colour).to_have_attribute("aria-pressed", "true")

        news_answered(page, late, answer)
        expect(colour).to_have_attribute("aria-pressed", "true")
        expect(dialog.locator("[data-feedback=dislike]")).to_have_attribute("aria-pressed", "true")
        assert Review.objects.get(history_item_id=item_id).reason_codes == ["colour"]

    def test_news_of_the_result_left_is_not_drawn_into_the_next_ones(self, review_page, live_server):
        page = review_page
        item_id = unrated_result()
        dialog = open_lightbox(page, live_server, item_id)
        late = ask_news_and_hold_it(page)  # about this result, shown unrated

        page.keyboard.press("l")
        expect(dialog.locator("[data-feedback=like]")).to_have_attribute("aria-pressed", "true")
        answer = late.fetch()  # this result, liked
        page.keyboard.press("ArrowRight")
        expect(dialog).not_to_have_attribute("data-item-id", item_id)
        following = dialog.get_attribute("data-item-id")
        shown = dialog.locator("#lightbox-review").inner_html()

        news_answered(page, late, answer)
        expect(dialog).to_have_attribute("data-item-id", following)
        assert dialog.locator("#lightbox-review").inner_html() == shown
