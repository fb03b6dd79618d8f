"""An open gallery in Chromium, on the ASGI application with the sync process running and
Redis carrying the news: results added elsewhere are announced above it (never inserted),
and a teammate's rating or delete of a result on screen shows on its card and in the
lightbox, with no timed poll."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from dashboard import genapi
from dashboard.core import polling
from dashboard.models import IndexedResult
from tests.support.browser import axe_violations, screenshot
from tests.support.corpus import garment_photo, person_photo
from tests.support.index import catch_up
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PHONE = {"width": 390, "height": 844}


def made_through_the_api() -> str:
    """A job sent straight to the API (as a script or another tool would): the dashboard
    learns of it only through the sync process."""
    files = [
        genapi.UploadFile("clothes", "dress.png", io.BytesIO(garment_photo()), "image/png"),
        genapi.UploadFile("person", "model.png", io.BytesIO(person_photo(fmt="PNG")), "image/png"),
    ]
    return genapi.create_job("fashion_swap", files).history_item_id


def finished_results(count: int) -> list[str]:
    """`count` results made through the API, once the index has them finished."""
    ids = [made_through_the_api() for _ in range(count)]
    wait_until(
        lambda: IndexedResult.objects.filter(history_item_id__in=ids, status="complete").count() == count,
        timeout=20,
        message="the sync did not index the results finished",
    )
    catch_up()  # and everything older (earlier tests' results): none is news to the page
    return ids


@pytest.fixture
def grace(teammate) -> Client:
    """A teammate, logged in in a browser of her own (a test client)."""
    client = Client()
    client.force_login(teammate)
    return client


@pytest.fixture
def news_requests(live_page) -> list:
    found: list = []
    live_page.on("request", lambda request: "/history/news" in request.url and found.append(request))
    return found


def opened_gallery(page, base_url: str) -> None:
    page.goto(base_url + "/history/")
    expect(page.locator("body")).to_have_attribute("data-live-stream", "open")


def test_a_result_made_through_the_api_is_announced_and_shown_on_request(
    live_page, asgi_app, on_simulator, syncing, news_requests
):
    page = live_page
    on_simulator.configure(job_seconds=1)
    (shown,) = finished_results(1)
    opened_gallery(page, asgi_app)
    cards = page.locator(".result-card")
    expect(cards.first).to_have_attribute("id", f"card-{shown}")
    drawn = cards.count()

    made = made_through_the_api()
    notice = page.locator("#gallery-news")
    expect(notice).to_have_text("1 new result · Show it", timeout=10_000)
    # Not inserted: the page still shows what it showed.
    expect(cards).to_have_count(drawn)
    expect(cards.first).to_have_attribute("id", f"card-{shown}")
    assert news_requests and all(request.headers.get("x-live-refresh") == "1" for request in news_requests)
    assert axe_violations(page) == []
    screenshot(page, "gallery-news-laptop")
    page.set_viewport_size(PHONE)
    screenshot(page, "gallery-news-phone")

    page.get_by_role("link", name="Show it").click()
    expect(page.locator(".result-card").first).to_have_attribute("id", f"card-{made}")
    expect(page.locator(f"#card-{made} .result-media")).to_be_focused()
    expect(page.locator(f"#card-{shown}")).to_be_visible()
    expect(notice).to_be_empty()
    assert page.url == asgi_app + "/history/"
    assert page.console_errors == []


def test_a_teammates_rating_shows_on_the_card_and_in_the_lightbox(
    live_page, asgi_app, on_simulator, syncing, grace, news_requests
):
    page = live_page
    on_simulator.configure(job_seconds=1)
    older, newer = finished_results(2)
    opened_gallery(page, asgi_app)
    card = page.locator(f"#card-{older}")
    like = card.locator("[data-feedback=like]")
    expect(like).to_have_attribute("aria-pressed", "false")
    card.locator("[data-select]").check()
    page.locator(f"#card-{newer} [data-select]").focus()

    grace.post(reverse("feedback", args=[older]), {"like": "true"}, HTTP_HX_REQUEST="true")
    expect(like).to_have_attribute("aria-pressed", "true", timeout=10_000)
    # The designer's selection and focus stay where they were.
    expect(card.locator("[data-select]")).to_be_checked()
    expect(page.locator("[data-selected-count]")).to_have_text("1 selected")
    expect(page.locator(f"#card-{newer} [data-select]")).to_be_focused()

    # Focus on the very card redrawn stays on the same control of it.
    card.locator("[data-feedback=dislike]").focus()
    grace.post(reverse("feedback", args=[older]), {"like": "true"}, HTTP_HX_REQUEST="true")  # again: cleared
    expect(like).to_have_attribute("aria-pressed", "false", timeout=10_000)
    expect(card.locator("[data-feedback=dislike]")).to_be_focused()
    expect(card.locator("[data-select]")).to_be_checked()

    card.locator(".result-media").click()
    review = page.locator("#lightbox-review")
    expect(review.locator("[data-feedback=like]")).to_have_attribute("aria-pressed", "false")
    review.locator("textarea").fill("The hem is lovely")
    grace.post(reverse("feedback", args=[older]), {"like": "false"}, HTTP_HX_REQUEST="true")
    expect(review.locator("[data-feedback=dislike]")).to_have_attribute("aria-pressed", "true", timeout=10_000)
    expect(review).to_contain_text("What is wrong?")
    expect(review.locator("textarea")).to_have_value("The hem is lovely")  # what she was typing stays
    assert [request for request in news_requests if request.headers.get("x-live-refresh") != "1"] == []
    assert axe_violations(page) == []
    assert page.console_errors == []


def test_a_teammates_delete_marks_the_card_and_the_open_lightbox(
    live_page, asgi_app, on_simulator, syncing, grace, news_requests
):
    page = live_page
    on_simulator.configure(job_seconds=1)
    older, newer = finished_results(2)
    opened_gallery(page, asgi_app)
    page.locator(f"#card-{newer} [data-select]").check()
    expect(page.locator("[data-selected-count]")).to_have_text("1 selected")
    page.locator(f"#card-{older} .result-media").click()
    expect(page.locator("dialog[data-lightbox]")).to_have_attribute("data-item-id", older)

    grace.post(reverse("history_delete", args=[older]), HTTP_HX_REQUEST="true")
    grace.post(reverse("history_delete", args=[newer]), HTTP_HX_REQUEST="true")
    expect(page.locator("#lightbox-review")).to_have_text(
        "This result was moved to the trash by grace. Trash", timeout=10_000
    )
    expect(page.locator(f"#card-{newer}")).to_have_text("Moved to the trash by grace. Trash")
    screenshot(page, "gallery-lightbox-deleted-by-a-teammate")
    page.keyboard.press("Escape")
    expect(page.locator(f"#card-{older}")).to_have_text("Moved to the trash by grace. Trash")
    expect(page.locator(f"#card-{older}")).to_be_focused()  # focus comes back to where the result was
    expect(page.locator(f"#card-{older} [data-select]")).to_have_count(0)
    assert [request for request in news_requests if request.headers.get("x-live-refresh") != "1"] == []
    assert axe_violations(page) == []
    expect(page.locator("[data-selected-count]")).to_have_text("")  # a deleted result is no longer selected
    screenshot(page, "gallery-deleted-by-a-teammate")
    page.set_viewport_size(PHONE)
    screenshot(page, "gallery-deleted-by-a-teammate-phone")
    assert page.console_errors == []


def test_without_push_the_gallery_asks_now_and_then_and_misses_nothing(
    live_page, asgi_app, on_simulator, syncing, grace, pushing, news_requests, monkeypatch
):
    page = live_page
    monkeypatch.setattr(polling, "NEWS_POLL_SECONDS", 1)  # 30 in a deployment
    pushing.stop()  # Redis gone: no stream, the news element polls
    on_simulator.configure(job_seconds=1)
    (shown,) = finished_results(1)
    page.goto(asgi_app + "/history/")
    expect(page.locator("body")).to_have_attribute("data-live-stream", "closed", timeout=15_000)

    made_through_the_api()
    grace.post(reverse("feedback", args=[shown]), {"like": "true"}, HTTP_HX_REQUEST="true")
    expect(page.locator("#gallery-news")).to_have_text("1 new result · Show it", timeout=15_000)
    expect(page.locator(f"#card-{shown} [data-feedback=like]")).to_have_attribute("aria-pressed", "true")
    assert [request for request in news_requests if request.headers.get("x-live-refresh") != "1"]


def test_a_job_run_again_in_the_lightbox_shows_its_end_by_push(live_page, asgi_app, on_simulator, syncing, designer):
    """The lightbox's new attempt is no card: it names the result it follows, and the
    server's news of that result brings its end, with no timed poll."""
    from dashboard.core.slots import Slot
    from dashboard.core.tokens import new as new_token
    from dashboard.jobs import services as jobs
    from tests.support.library import library_image

    page = live_page
    on_simulator.configure(job_seconds=1)
    inputs = [
        (Slot(name="clothes", label="Garment"), library_image(designer, "clothes", "red dress")),
        (Slot(name="person", label="Model photo"), library_image(designer, "person", "anna")),
    ]
    original = jobs.send_job(designer, tool="fashion_swap", tool_title="Fashion Swap", inputs=inputs, token=new_token())
    wait_until(
        lambda: IndexedResult.objects.filter(history_item_id=original.history_item_id, status="complete").exists(),
        timeout=20,
        message="the sync did not index the result finished",
    )
    asked: list = []
    page.on("request", lambda request: "running=" in request.url and asked.append(request))
    page.goto(f"{asgi_app}/history/{original.history_item_id}/")
    expect(page.locator("body")).to_have_attribute("data-live-stream", "open")
    on_simulator.configure(job_seconds=3)

    page.get_by_role("button", name="Run again").click()
    attempt = page.locator("#lightbox-reruns .rerun")
    expect(attempt.locator(".badge")).to_have_text("Running")
    expect(attempt.locator(".badge")).to_have_text("Done", timeout=15_000)
    assert asked and all(request.headers.get("x-live-refresh") == "1" for request in asked)
    assert page.console_errors == []
