"""/insights/ in Chromium, at laptop and phone width: no axe violation in any state (as
loaded, with a figure's numbers open), a visible focus ring on the bars, and a click on a
bar opens History showing exactly the results it counts. Screenshots in var/screenshots/."""

import re

import pytest
from playwright.sync_api import expect

from tests.insights.seeding import seed
from tests.support.browser import axe_violations, screenshot, small_targets, unringed_focus_stops

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
LAPTOP = {"viewport": {"width": 1440, "height": 900}}


@pytest.fixture
def open_insights(designer, bob, client_pages):
    """/insights/ on a seeded history for `designer`, in a new browser context."""
    seed(designer, bob)

    def open_at(options, path="/insights/"):
        page = client_pages(options, path)
        expect(page.get_by_role("heading", name="Insights", exact=True)).to_be_visible()
        return page

    return open_at


def gallery_total(page) -> int:
    text = page.locator(".result-count").inner_text()
    return int(re.match(r"([\d,]+) result", text).group(1).replace(",", ""))


@pytest.mark.parametrize("device", ["laptop", "phone"])
def test_insights_read_well_and_pass_axe_in_every_state(open_insights, device):
    page = open_insights(LAPTOP if device == "laptop" else PHONE)
    assert axe_violations(page) == []
    assert small_targets(page) == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # nothing runs off the side
    screenshot(page, f"insights-{device}")

    numbers = page.locator("#keep-by-tool details")
    numbers.locator("summary").click()
    expect(numbers.locator("table")).to_be_visible()
    assert axe_violations(page) == []
    page.locator("#keep-by-tool").screenshot(path=str(screenshot(page, f"insights-{device}-numbers")))
    assert page.console_errors == []


def test_a_bar_opens_history_with_exactly_its_results(open_insights):
    page = open_insights(LAPTOP, "/insights/?tool=fashion_swap")
    bar = page.locator('#keep-by-style .bar-link:not([data-count="0"])').first
    count = int(bar.get_attribute("data-count"))
    bar.click()
    expect(page).to_have_url(re.compile(r"/history/\?.*rating=liked"))
    assert gallery_total(page) == count > 0


def test_bars_are_reached_by_keyboard_with_a_visible_ring(open_insights):
    page = open_insights(LAPTOP)
    page.locator("#keep-by-tool .bar-link").first.focus()
    assert unringed_focus_stops(page, 6) == []


@pytest.fixture
def rated_run(designer):
    from tests.insights.test_run_heatmap import rated_run as make_rated_run

    return make_rated_run(designer)


@pytest.mark.parametrize("device", ["laptop", "phone"])
def test_a_run_page_heat_map_passes_axe_and_its_cell_opens_its_result(open_insights, rated_run, device):
    page = open_insights(LAPTOP if device == "laptop" else PHONE)
    page.goto(page.url.replace("/insights/", f"/runs/{rated_run.pk}/"))
    heat = page.locator("#run-ratings")
    expect(heat.get_by_text("Best garment: Garment 2")).to_be_visible()
    assert axe_violations(page) == []
    heat.screenshot(path=str(screenshot(page, f"run-heatmap-{device}")))
    heat.locator("a.heat-cell").first.click()
    expect(page).to_have_url(re.compile(r"/history/\?run="))
    assert gallery_total(page) == 1
