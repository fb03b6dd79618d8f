"""Reviewing in a real Chromium: ratings that toggle, dislike reasons by click or key,
notes; the trash with its undo toast. Screenshots at desktop and phone sizes."""

import re

import pytest
import requests
from django.conf import settings as django_settings
from playwright.sync_api import expect

from tests.support.browser import SCREENSHOTS, axe_violations
from tests.support.index import catch_up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def seeded_simulator(tmp_path_factory):
    from tests.support.simulator import SimulatorProcess

    with SimulatorProcess(tmp_path_factory.mktemp("review-sim")) as process:
        process.seed(40)
        yield process


@pytest.fixture
def review_app(live_server, settings, seeded_simulator):
    """The dashboard on this module's seeded simulator, its history read into the index
    as the sync process would have done before the designer came."""
    settings.GENAPI_BASE_URL = seeded_simulator.base_url
    settings.GENAPI_API_KEY = seeded_simulator.api_key
    catch_up()
    return live_server


@pytest.fixture(params=list(SIZES))
def sized_page(request, browser, review_app, designer, client):
    client.force_login(designer)
    phone = request.param == "phone"
    context = browser.new_context(viewport=SIZES[request.param], is_mobile=phone, has_touch=phone)
    context.set_default_timeout(10_000)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": review_app.url}])
    page = context.new_page()
    page.size_name = request.param
    yield page
    context.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{page.size_name}.png"))


def unrated_id(simulator) -> str:
    body = requests.get(
        f"{simulator.base_url}/user/generation-history",
        params={"limit": 100, "status": "complete"},
        headers=simulator.headers,
        timeout=5,
    ).json()
    return next(item["id"] for item in body["items"] if item.get("like") is None)


class TestReview:
    def test_dislike_opens_reasons_chosen_by_key_and_a_note_then_pressing_again_clears(
        self, sized_page, review_app, seeded_simulator
    ):
        page = sized_page
        item_id = unrated_id(seeded_simulator)
        page.goto(f"{review_app.url}/history/{item_id}/")
        dialog = page.locator("dialog[data-lightbox]")
        expect(dialog).to_be_visible()
        expect(dialog.locator("[data-reason-key]")).to_have_count(0)

        page.keyboard.press("d")
        dislike = dialog.locator("[data-feedback=dislike]")
        expect(dislike).to_have_attribute("aria-pressed", "true")
        expect(dialog.locator("[data-reason-key]")).to_have_count(7)
        page.keyboard.press("6")
        expect(dialog.get_by_role("button", name="Colour off")).to_have_attribute("aria-pressed", "true")
        dialog.get_by_role("button", name="Wrong fit or length").click()
        expect(dialog.get_by_role("button", name="Wrong fit or length")).to_have_attribute("aria-pressed", "true")
        dialog.get_by_label("Note").fill("Hem too short; keys typed here are text: d")
        dialog.get_by_role("button", name="Save note").click()
        expect(dialog.get_by_label("Note")).to_have_value("Hem too short; keys typed here are text: d")
        expect(dislike).to_have_attribute("aria-pressed", "true")
        dialog.get_by_label("Note").blur()
        assert axe_violations(page) == []
        dialog.locator("[data-review]").scroll_into_view_if_needed()
        shot(page, "lightbox-reasons")

        page.keyboard.press("d")
        expect(dialog.locator("[data-feedback=dislike]")).to_have_attribute("aria-pressed", "false")
        expect(dialog.locator("[data-reason-key]")).to_have_count(0)
        expect(dialog.get_by_text("Rating cleared by ada")).to_be_visible()
        page.reload()
        expect(page.locator("dialog[data-lightbox] [data-feedback=dislike]")).to_have_attribute("aria-pressed", "false")
        expect(page.locator("dialog[data-lightbox]").get_by_label("Note")).to_have_value(
            "Hem too short; keys typed here are text: d"
        )


class TestTrash:
    def test_delete_from_the_lightbox_hides_it_undo_there_brings_it_back_and_the_toast_goes_ten_seconds_after_the_pointer_leaves(
        self, sized_page, review_app, seeded_simulator
    ):
        page = sized_page
        page.clock.install()
        page.goto(f"{review_app.url}/history/")
        first = page.locator(".result-card").first
        item_id = first.get_attribute("id").removeprefix("card-")
        first.locator(".result-media").click()
        expect(page.locator("dialog[data-lightbox]")).to_be_visible()
        page.keyboard.press("Delete")
        # The lightbox goes on to the next result, the Undo in the dialog (a modal makes
        # the page's toasts unreachable); the grid behind has refilled without it.
        dialog = page.locator("dialog[data-lightbox]")
        undo = dialog.get_by_role("button", name="Undo")
        expect(undo).to_be_focused()
        expect(dialog.get_by_role("status").filter(has_text="Moved to the trash")).to_be_visible()
        expect(page.locator(f"#card-{item_id}")).to_have_count(0)
        expect(page.locator(".result-card")).to_have_count(20)
        assert axe_violations(page) == []
        shot(page, "lightbox-undo")
        undo.click()
        expect(dialog).to_have_attribute("data-item-id", item_id)
        expect(dialog.get_by_text("Restored.")).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.locator(f"#card-{item_id}")).to_be_visible()

        # A card's own delete button: the page's toast offers the Undo.
        page.locator(f"#card-{item_id} [data-card-delete]").click()
        expect(page.locator(f"#card-{item_id}")).to_have_count(0)
        toast = page.locator("#undo-toast .undo-toast")
        expect(toast).to_contain_text("Moved to the trash.")
        # The pointer on the toast keeps it however long the checks below take.
        toast.hover()
        assert axe_violations(page) == []
        shot(page, "undo-toast")
        toast.get_by_role("button", name="Undo").click()
        expect(page.locator(f"#card-{item_id}")).to_be_visible()
        expect(page.locator("#gallery").get_by_text("Restored.")).to_be_visible()

        # The toast of a new delete stays while the pointer rests on it, and leaves 10 s
        # after the pointer has left it.
        page.locator(f"#card-{item_id} [data-card-delete]").click()
        expect(page.locator(f"#card-{item_id}")).to_have_count(0)
        expect(toast).to_be_visible()
        toast.hover()
        page.clock.run_for(15_000)
        expect(toast).to_be_visible()
        page.mouse.move(0, 0)
        page.clock.run_for(9_000)
        expect(toast).to_be_visible()
        page.clock.run_for(2_000)
        expect(toast).to_have_count(0)

    def test_the_trash_page_restores_and_deletes_forever(self, sized_page, review_app, seeded_simulator):
        page = sized_page
        page.goto(f"{review_app.url}/history/")
        cards = page.locator(".result-card")
        ids = [cards.nth(n).get_attribute("id").removeprefix("card-") for n in (0, 1, 2)]
        for item_id in ids:
            page.locator(f"#card-{item_id} [data-select]").check()
        page.once("dialog", lambda confirm: confirm.accept())
        page.get_by_role("button", name="Delete selected").click()
        expect(page.locator("#gallery").get_by_text("3 moved to the trash.")).to_be_visible()
        page.get_by_role("link", name="Trash", exact=True).first.click()
        expect(page.get_by_role("heading", name="Trash")).to_be_visible()
        expect(page.locator(".trash-card")).to_have_count(3)
        assert axe_violations(page) == []
        shot(page, "trash")

        page.locator(f"#trashed-{ids[0]}").get_by_role("button", name="Restore").click()
        expect(page.get_by_text("Restored.")).to_be_visible()
        expect(page.locator(".trash-card")).to_have_count(2)
        page.once("dialog", lambda confirm: confirm.accept())
        page.locator(f"#trashed-{ids[1]}").get_by_role("button", name="Delete forever").click()
        expect(page.get_by_text("Deleted for good.", exact=True)).to_be_visible()
        page.once("dialog", lambda confirm: confirm.accept())
        page.get_by_role("button", name="Empty trash").click()
        expect(page.get_by_text("The trash is empty: 1 deleted for good.")).to_be_visible()
        expect(page.get_by_text("The trash is empty.", exact=True)).to_be_visible()
        headers = seeded_simulator.headers
        base = f"{seeded_simulator.base_url}/user/generation-history"
        assert requests.get(f"{base}/{ids[0]}", headers=headers, timeout=5).status_code == 200
        assert [requests.get(f"{base}/{i}", headers=headers, timeout=5).status_code for i in ids[1:]] == [404, 404]


def open_filters(page) -> None:
    """On a phone the filters fold behind "Filters (n)": open them (a laptop shows them)."""
    panel = page.locator("details[data-filters-panel]")
    if panel.locator("summary").is_visible() and panel.get_attribute("open") is None:
        panel.locator("summary").click()


class TestRatingFilter:
    def test_choosing_a_rating_and_a_reason_filters_the_gallery_in_the_url(
        self, sized_page, review_app, seeded_simulator
    ):
        page = sized_page
        item_id = unrated_id(seeded_simulator)
        page.goto(f"{review_app.url}/history/{item_id}/")
        page.keyboard.press("d")
        page.keyboard.press("4")
        expect(page.locator("dialog[data-lightbox]").get_by_role("button", name="Artefacts")).to_have_attribute(
            "aria-pressed", "true"
        )
        page.goto(f"{review_app.url}/history/")
        open_filters(page)
        page.get_by_label("Dislike reason").select_option("artefacts")
        expect(page).to_have_url(re.compile(r"/history/\?reason=artefacts$"))
        expect(page.locator(".result-card")).to_have_count(1)
        expect(page.locator(f"#card-{item_id}")).to_be_visible()
        open_filters(page)
        page.get_by_label("Rating", exact=True).select_option("liked")
        expect(page).to_have_url(re.compile(r"rating=liked&reason=artefacts$"))
        expect(page.get_by_text("No results match these filters.")).to_be_visible()
