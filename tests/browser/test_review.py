"""Reviewing in a real Chromium: ratings that toggle, dislike reasons by click or key,
notes; the trash with its undo toast. Screenshots at desktop and phone sizes."""

import pytest
import requests
from django.conf import settings as django_settings
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS, axe_violations

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
    settings.GENAPI_BASE_URL = seeded_simulator.base_url
    settings.GENAPI_API_KEY = seeded_simulator.api_key
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
    def test_dislike_opens_reasons_chosen_by_key_and_a_note_then_pressing_again_clears(self, sized_page, review_app, seeded_simulator):
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
        expect(page.locator("dialog[data-lightbox]").get_by_label("Note")).to_have_value("Hem too short; keys typed here are text: d")
