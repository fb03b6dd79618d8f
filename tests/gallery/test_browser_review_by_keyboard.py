"""A designer's review session by keyboard alone: 45 filtered results across 3 pages.

Opened from the first card of "Done", → walks every result (across two page edges),
L likes, D dislikes and a digit gives the reason, Del moves the last one to the trash
(the lightbox goes on to the next), Enter on the Undo in the dialog brings it back, and
Esc returns to the page the walk ended on, filters kept.
"""

import re

import pytest
import requests
from django.conf import settings as django_settings
from playwright.sync_api import expect

from dashboard.models import Review, TrashedResult
from tests.support.index import catch_up
from tests.support.sync import sync_running

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WALKED = 45


@pytest.fixture(scope="module")
def sixty_results(tmp_path_factory):
    from tests.support.simulator import SimulatorProcess

    with SimulatorProcess(tmp_path_factory.mktemp("keyboard-review-sim")) as process:
        process.seed(60)  # about 52 of them finished: three pages of "Done"
        yield process


@pytest.fixture
def keyboard_page(browser, live_server, settings, sixty_results, designer, client):
    settings.GENAPI_BASE_URL = sixty_results.base_url
    settings.GENAPI_API_KEY = sixty_results.api_key
    catch_up()  # the sync process has read the history, and follows it while the test lasts
    client.force_login(designer)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    with sync_running(settings):
        yield context.new_page()
    context.close()


def finished_ids(simulator) -> list[str]:
    body = requests.get(
        f"{simulator.base_url}/user/generation-history",
        params={"limit": 100, "status": "complete"},
        headers=simulator.headers,
        timeout=5,
    ).json()
    return [item["id"] for item in body["items"]]


def rate(page, dialog, key: str, name: str) -> None:
    """Press the key until the rating is set; one already set (the seed rates some) is
    first cleared by the same key, the toggle a designer uses to take a rating back."""
    button = dialog.locator(f"[data-feedback={name}]")
    if button.get_attribute("aria-pressed") == "true":
        page.keyboard.press(key)
        expect(button).to_have_attribute("aria-pressed", "false")
    page.keyboard.press(key)
    expect(button).to_have_attribute("aria-pressed", "true")


def test_reviewing_45_filtered_results_across_3_pages_by_keyboard(keyboard_page, live_server, sixty_results):
    page = keyboard_page
    expected = finished_ids(sixty_results)[:WALKED]
    assert len(expected) == WALKED
    page.goto(f"{live_server.url}/history/?status=complete")
    page.locator(".result-media").first.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("dialog[data-lightbox]")

    for index, item_id in enumerate(expected):
        expect(page).to_have_url(re.compile(rf"/history/{item_id}/\?status=complete"))
        expect(dialog).to_be_visible()
        if index % 3 == 0:
            rate(page, dialog, "l", "like")
        elif index % 3 == 1:
            rate(page, dialog, "d", "dislike")
            # The reasons arrive with the server's answer to the dislike: a digit pressed
            # before they are there goes nowhere (as once in a loaded full run).
            expect(dialog.locator("[data-reason-key]")).to_have_count(len(Review.Reason))
            page.keyboard.press("6")
            expect(dialog.get_by_role("button", name="Colour off")).to_have_attribute("aria-pressed", "true")
        if index + 1 < WALKED:
            page.keyboard.press("ArrowRight")

    # The 45th result is on page 3: the walk crossed both page edges under the filter.
    assert "page=3" in page.url
    last = expected[-1]
    following = re.search(r"/history/(\w+)/", dialog.locator("[data-nav=next]").get_attribute("href")).group(1)
    page.keyboard.press("Delete")
    # The lightbox goes on to the next result, with the Undo in the dialog and focused.
    expect(dialog).to_have_attribute("data-item-id", following)
    expect(dialog.get_by_role("button", name="Undo")).to_be_focused()
    assert TrashedResult.objects.filter(history_item_id=last).exists()
    page.keyboard.press("Enter")
    expect(dialog).to_have_attribute("data-item-id", last)
    assert not TrashedResult.objects.filter(history_item_id=last).exists()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(page.locator(f"#card-{last}")).to_be_visible()

    # Back in the gallery: the page the walk ended on, the filter still checked.
    assert re.search(r"[?&]page=3\b", page.url) and "status=complete" in page.url
    expect(page.get_by_role("checkbox", name="Done")).to_be_checked()
    liked = {item_id for index, item_id in enumerate(expected) if index % 3 == 0}
    disliked = {item_id for index, item_id in enumerate(expected) if index % 3 == 1}
    reviews = {review.history_item_id: review for review in Review.objects.filter(history_item_id__in=disliked)}
    assert all(reviews[item_id].reason_codes == ["colour"] for item_id in disliked)
    stored = requests.get(
        f"{sixty_results.base_url}/user/generation-history",
        params={"limit": 100, "status": "complete"},
        headers=sixty_results.headers,
        timeout=5,
    ).json()["items"]
    likes = {item["id"]: item.get("like") for item in stored}
    assert all(likes[item_id] is True for item_id in liked)
    assert all(likes[item_id] is False for item_id in disliked)
