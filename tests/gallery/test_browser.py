"""The history gallery in a real Chromium against its own seeded simulator, with the sync
process running as in a deployment: it has read the seeded history before each test, and
follows the simulator while the test lasts (the seeded running jobs finish meanwhile)."""

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.support.browser import axe_violations, screenshot, small_targets, unringed_focus_stops
from tests.support.index import catch_up
from tests.support.sync import sync_running
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def seeded_simulator(tmp_path_factory):
    from tests.support.simulator import SimulatorProcess

    with SimulatorProcess(tmp_path_factory.mktemp("gallery-sim")) as process:
        process.seed(45)
        yield process


@pytest.fixture
def synced(settings, seeded_simulator):
    """Django on this module's simulator, its history read by the sync, which runs on."""
    settings.GENAPI_BASE_URL = seeded_simulator.base_url
    settings.GENAPI_API_KEY = seeded_simulator.api_key
    catch_up()
    with sync_running(settings):
        yield


@pytest.fixture
def gallery_page(signed_in_page, synced):
    # In this order: signed_in_page points Django at the session's shared simulator
    # (live_app -> on_simulator); `synced` then points it, and the sync thread, at this
    # module's. The other way round the sync followed an empty upstream and forgot the
    # seeded results as gone (404) while the test ran.
    return signed_in_page


def upstream_ids(simulator, **params) -> list[str]:
    response = requests.get(
        f"{simulator.base_url}/user/generation-history",
        params={"limit": 20, **params},
        headers={"Authorization": f"Bearer {simulator.api_key}"},
        timeout=5,
    )
    return [item["id"] for item in response.json()["items"]]


def seeded_jobs_ended(simulator) -> None:
    """Until the seeded running jobs (due 10 to 40 s after seeding) have ended, upstream
    and in the index: one ending mid-test puts a result at the top of the Done pages and
    moves every other down one, so a page edge a test reads from the upstream moves."""
    from dashboard.models import IndexedResult

    wait_until(
        lambda: (
            not upstream_ids(simulator, status="pending")
            and not IndexedResult.objects.filter(status="pending").exists()
        ),
        timeout=60,
        interval=0.3,
        message="the seeded jobs still run",
    )


class TestGallery:
    def test_filters_live_in_the_url_and_back_restores_the_previous_view(
        self, gallery_page, live_server, seeded_simulator
    ):
        page = gallery_page
        page.goto(live_server.url + "/history/")
        expect(page.locator(".result-card")).to_have_count(20)
        assert axe_violations(page) == []
        screenshot(page, "history-1440")

        page.get_by_label("Failed").check()
        expect(page).to_have_url(re.compile(r"/history/\?status=error$"))
        expect(page.locator(".result-card.status-complete")).to_have_count(0)
        failed = page.locator(".result-card.status-error").count()
        assert failed >= 1

        page.go_back()
        expect(page).to_have_url(live_server.url + "/history/")
        expect(page.locator(".result-card")).to_have_count(20)
        expect(page.get_by_label("Failed")).not_to_be_checked()
        page.go_forward()
        expect(page).to_have_url(re.compile(r"status=error$"))
        expect(page.locator(".result-card")).to_have_count(failed)

    def test_tool_and_dates_filter_from_the_form_and_live_in_the_url(self, gallery_page, live_server, seeded_simulator):
        page = gallery_page
        page.goto(live_server.url + "/history/")
        page.get_by_label("Tool").select_option("fashion_swap")
        expect(page).to_have_url(re.compile(r"/history/\?tool=fashion_swap$"))
        page.get_by_label("Last 7 days").check()
        expect(page).to_have_url(re.compile(r"tool=fashion_swap&when=7d$"))
        page.get_by_label("From").fill("2026-01-02")
        expect(page).to_have_url(re.compile(r"tool=fashion_swap&when=custom&from=2026-01-02$"))
        expect(page.get_by_label("Custom dates")).to_be_checked()
        page.get_by_label("Today").check()
        expect(page).to_have_url(re.compile(r"tool=fashion_swap&when=today$"))
        expect(page.get_by_label("From")).to_have_value("")
        assert axe_violations(page) == []

    def test_pages_are_numbered_and_kept_in_the_url(self, gallery_page, live_server, seeded_simulator):
        page = gallery_page
        page.goto(live_server.url + "/history/")
        page.get_by_role("link", name="Page 3").click()
        expect(page).to_have_url(re.compile(r"page=3$"))
        expect(page.locator(".pagination [aria-current=page]")).to_have_text("Page 3")
        page.reload()
        expect(page.locator(".pagination [aria-current=page]")).to_have_text("Page 3")

    def test_the_lightbox_moves_with_the_keyboard_across_a_page_boundary(
        self, gallery_page, live_server, seeded_simulator
    ):
        page = gallery_page
        first_page, second_page = upstream_ids(seeded_simulator, page=1), upstream_ids(seeded_simulator, page=2)
        page.goto(live_server.url + "/history/")
        page.locator(f"#card-{first_page[-1]} .result-media").click()
        dialog = page.locator("dialog[data-lightbox]")
        expect(dialog).to_be_visible()
        expect(page).to_have_url(re.compile(rf"/history/{first_page[-1]}/"))
        assert page.evaluate("document.querySelector('dialog[data-lightbox]').matches(':modal')")
        assert axe_violations(page) == []
        screenshot(page, "lightbox-1440")

        page.keyboard.press("ArrowRight")
        expect(page).to_have_url(re.compile(rf"/history/{second_page[0]}/\?page=2$"))
        page.keyboard.press("ArrowLeft")
        expect(page).to_have_url(re.compile(rf"/history/{first_page[-1]}/"))
        page.keyboard.press("ArrowRight")
        expect(page).to_have_url(re.compile(rf"/history/{second_page[0]}/"))

        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        expect(page).to_have_url(re.compile(r"/history/\?page=2$"))
        expect(page.locator(f"#card-{second_page[0]}")).to_be_visible()
        expect(page.locator(f"#card-{second_page[0]} .result-media")).to_be_focused()  # the one last shown

    def test_the_lightbox_keeps_the_filters_and_page_it_was_opened_from(
        self, gallery_page, live_server, seeded_simulator
    ):
        page = gallery_page
        seeded_jobs_ended(seeded_simulator)
        done_one, done_two = (
            upstream_ids(seeded_simulator, page=1, status="complete"),
            upstream_ids(seeded_simulator, page=2, status="complete"),
        )
        page.goto(live_server.url + "/history/?status=complete&page=2")
        card = page.locator(f"#card-{done_two[0]} .result-media")
        card.click()
        dialog = page.locator("dialog[data-lightbox]")
        expect(dialog).to_be_visible()
        expect(page).to_have_url(re.compile(rf"/history/{done_two[0]}/\?status=complete&page=2$"))
        page.keyboard.press("ArrowLeft")  # across the page edge, to the previous Done result
        expect(page).to_have_url(re.compile(rf"/history/{done_one[-1]}/\?status=complete$"))
        page.keyboard.press("ArrowRight")
        expect(page).to_have_url(re.compile(rf"/history/{done_two[0]}/\?status=complete&page=2$"))
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        expect(page).to_have_url(re.compile(r"/history/\?status=complete&page=2$"))
        expect(page.get_by_label("Done")).to_be_checked()
        expect(page.locator(".pagination [aria-current=page]")).to_have_text("Page 2")
        expect(card).to_be_focused()

        card.click()  # walk on within the page: Esc focuses the card of the result last shown
        expect(page).to_have_url(re.compile(rf"/history/{done_two[0]}/\?status=complete&page=2$"))
        following = page.locator(f"#card-{done_two[0]} + [data-card]").get_attribute("id").removeprefix("card-")
        page.keyboard.press("ArrowRight")
        expect(page).to_have_url(re.compile(rf"/history/{following}/\?status=complete&page=2$"))
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        expect(page.locator(f"#card-{following} .result-media")).to_be_focused()

    def test_escape_returns_to_the_gallery_at_the_same_scroll_position(
        self, gallery_page, live_server, seeded_simulator
    ):
        page = gallery_page
        ids = upstream_ids(seeded_simulator, page=1)
        page.goto(live_server.url + "/history/")
        card = page.locator(f"#card-{ids[14]} .result-media")
        card.scroll_into_view_if_needed()
        scrolled = page.evaluate("window.scrollY")
        assert scrolled > 0
        card.click()
        expect(page.locator("dialog[data-lightbox]")).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.locator("dialog[data-lightbox]")).to_have_count(0)
        assert page.evaluate("window.scrollY") == scrolled
        expect(page).to_have_url(live_server.url + "/history/")

    def test_a_like_pressed_from_the_keyboard_keeps_focus_on_the_button(
        self, gallery_page, live_server, seeded_simulator
    ):
        page = gallery_page
        page.goto(live_server.url + "/history/?status=complete")
        card = page.locator(".result-card:has([data-feedback=like][aria-pressed=false])").first
        card_id = card.get_attribute("id")
        card.locator("[data-feedback=like]").focus()
        page.keyboard.press("Enter")
        like = page.locator(f"#{card_id} [data-feedback=like]")
        expect(like).to_have_attribute("aria-pressed", "true")
        expect(like).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.locator(f"#{card_id} [data-feedback=dislike]")).to_be_focused()

    def test_deleting_in_the_lightbox_shows_the_next_result_and_closing_focuses_its_card(
        self, gallery_page, live_server, seeded_simulator
    ):
        page = gallery_page
        ids = upstream_ids(seeded_simulator, page=1)
        page.goto(live_server.url + "/history/")
        page.locator(f"#card-{ids[7]} .result-media").click()
        dialog = page.locator("dialog[data-lightbox]")
        expect(dialog).to_be_visible()
        page.keyboard.press("Delete")
        # The lightbox stays open on the next result, the Undo inside it.
        expect(dialog).to_have_attribute("data-item-id", ids[8])
        expect(dialog.get_by_role("button", name="Undo")).to_be_focused()
        expect(page.locator(f"#card-{ids[7]}")).to_have_count(0)
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        expect(page.locator(f"#card-{ids[8]} .result-media")).to_be_focused()
        assert not page.evaluate("document.documentElement.classList.contains('has-lightbox')")

    def test_every_focus_stop_shows_a_ring_and_every_target_is_at_least_24_px(
        self, gallery_page, live_server, seeded_simulator
    ):
        page = gallery_page
        page.goto(live_server.url + "/history/")
        expect(page.locator(".result-card").first).to_be_visible()
        assert small_targets(page) == []
        assert unringed_focus_stops(page, 40) == []
        assert unringed_focus_stops(page, 20, key="Shift+Tab") == []
        page.locator(".result-card.status-complete .result-media").first.click()
        expect(page.locator("dialog[data-lightbox]")).to_be_visible()
        assert small_targets(page) == []
        assert unringed_focus_stops(page, 12) == []

    def test_like_and_dislike_from_the_keyboard_in_the_lightbox(self, gallery_page, live_server, seeded_simulator):
        page = gallery_page
        page.goto(live_server.url + "/history/?status=complete")
        not_liked = page.locator(".result-card:has([data-feedback=like][aria-pressed=false])").first
        not_liked.locator(".result-media").click()
        dialog = page.locator("dialog[data-lightbox]")
        expect(dialog).to_be_visible()
        page.keyboard.press("l")
        expect(dialog.locator("[data-feedback=like]")).to_have_attribute("aria-pressed", "true")
        page.keyboard.press("d")
        expect(dialog.locator("[data-feedback=dislike]")).to_have_attribute("aria-pressed", "true")
        expect(dialog.locator("[data-feedback=like]")).to_have_attribute("aria-pressed", "false")

    def test_l_or_d_on_a_failed_result_says_why_nothing_happened(self, gallery_page, live_server, seeded_simulator):
        page = gallery_page
        page.goto(live_server.url + "/history/?status=error")
        page.locator(".result-card .result-media").first.click()
        dialog = page.locator("dialog[data-lightbox]")
        expect(dialog).to_be_visible()
        page.keyboard.press("l")
        note = dialog.get_by_role("status")
        expect(note).to_have_text("It failed, so there is nothing to rate.")
        assert axe_violations(page) == []
        screenshot(page, "lightbox-failed-rating-refused-1440")

    def test_bulk_delete_of_three_results(self, gallery_page, live_server, seeded_simulator):
        page = gallery_page
        ids = upstream_ids(seeded_simulator, page=1)
        chosen = ids[3:6]
        page.goto(live_server.url + "/history/")
        page.locator(f"#card-{chosen[0]} [data-select]").click()
        page.locator(f"#card-{chosen[2]} [data-select]").click(modifiers=["Shift"])
        expect(page.get_by_text("3 selected")).to_be_visible()
        page.once("dialog", lambda confirm: confirm.accept())
        page.get_by_role("button", name="Delete selected").click()
        expect(page.locator("#gallery").get_by_text("3 moved to the trash.")).to_be_visible()
        for item_id in chosen:
            expect(page.locator(f"#card-{item_id}")).to_have_count(0)
        expect(page.locator(".result-card")).to_have_count(20)  # refilled from the next page
        # In the trash, not yet deleted upstream; "Undo" brings all three back.
        assert set(chosen) <= set(upstream_ids(seeded_simulator, page=1, limit=100))
        page.locator("#undo-toast").get_by_role("button", name="Undo").click()
        for item_id in chosen:
            expect(page.locator(f"#card-{item_id}")).to_have_count(1)

    def test_bulk_delete_asks_first_even_when_the_clicked_button_does_not_take_focus(
        self, gallery_page, live_server, seeded_simulator
    ):
        # Safari and Firefox on macOS do not focus a clicked button: element.click() does
        # the same here (a real click event, the form submitted, focus left where it was).
        page = gallery_page
        before = upstream_ids(seeded_simulator, page=1, limit=100)
        chosen = before[:2]
        page.goto(live_server.url + "/history/")
        for item_id in chosen:
            page.locator(f"#card-{item_id} [data-select]").check()
        expect(page.get_by_text("2 selected")).to_be_visible()
        asked = []
        page.once("dialog", lambda confirm: (asked.append(confirm.message), confirm.dismiss()))
        delete = page.get_by_role("button", name="Delete selected")
        delete.evaluate("button => { button.blur(); button.click(); }")
        assert delete.evaluate("button => document.activeElement !== button")
        assert asked == ["Move the selected results to the trash?"]
        expect(delete).to_be_enabled()
        expect(page.get_by_text("moved to the trash.")).to_have_count(0)
        for item_id in chosen:
            expect(page.locator(f"#card-{item_id}")).to_have_count(1)
        assert upstream_ids(seeded_simulator, page=1, limit=100) == before

    def test_phone_layout_and_lightbox(self, synced, browser, live_server, designer, client):
        from django.conf import settings as django_settings

        client.force_login(designer)
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        context.add_cookies(
            [
                {
                    "name": django_settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
        page = context.new_page()
        page.goto(live_server.url + "/history/")
        expect(page.locator(".result-card").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert axe_violations(page) == []
        screenshot(page, "history-390")
        page.locator(".result-card.status-complete .result-media").first.click()
        expect(page.locator("dialog[data-lightbox]")).to_be_visible()
        assert page.evaluate("(d => d.scrollWidth <= d.clientWidth)(document.querySelector('dialog[data-lightbox]'))")
        expect(page.get_by_role("link", name="Back to the gallery")).to_be_in_viewport(ratio=1)
        assert axe_violations(page) == []
        page.screenshot(path=str(screenshot.__globals__["SCREENSHOTS"] / "lightbox-390.png"))
        context.close()
