"""Compare and zoom (issue 20, item 12), in Chromium against a seeded simulator: two to
four results chosen in History side by side with their inputs, zoomed and panned in step
(wheel, keys, buttons, two fingers on a phone), and zoom in the lightbox with its keys."""

import re

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from dashboard.models import IndexedResult, JobInput
from tests.factories import JobFactory
from tests.gallery.test_browser import seeded_simulator, synced  # noqa: F401 (fixtures)
from tests.support.browser import axe_violations, screenshot, small_targets, unringed_focus_stops
from tests.support.library import library_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
LAPTOP = {"viewport": {"width": 1440, "height": 900}}
PANEL_IMAGES = "[data-zoom-group] [data-zoom-stage] img"
TRANSFORMS = """(selector) => Array.from(document.querySelectorAll(selector)).map((image) => {
  const matrix = new DOMMatrix(getComputedStyle(image).transform);
  return { scale: matrix.a, x: matrix.e / image.offsetWidth, y: matrix.f / image.offsetHeight };
})"""


@pytest.fixture
def open_page(synced, browser, live_server, designer, client):  # noqa: F811
    """A page for `designer` in a new browser context (phone or laptop, with or without JavaScript)."""
    client.force_login(designer)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    contexts = []

    def open_at(options, path):
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
        contexts.append(context)
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
        page.goto(live_server.url + path)
        return page

    yield open_at
    for context in contexts:
        context.close()


@pytest.fixture
def with_inputs(synced, designer):  # noqa: F811
    """Four finished results, each made here with a garment and a model photo."""
    ids = list(
        IndexedResult.objects.filter(status="complete", in_trash=False)
        .order_by("-sort_at")
        .values_list("history_item_id", flat=True)[:4]
    )
    for number, item_id in enumerate(ids, start=1):
        job = JobFactory(designer=designer, history_item_id=item_id, status="complete")
        garment = library_image(designer, "clothes", f"dress-{number}")
        person = library_image(designer, "person", f"model-{number}")
        JobInput.objects.create(job=job, slot="clothes", label="Garment", image=garment, position=0)
        JobInput.objects.create(job=job, slot="person", label="Model photo", image=person, position=1)
    return ids


def compare_path(ids, query=""):
    return f"/history/compare/?ids={','.join(ids)}" + (f"&{query}" if query else "")


def transforms(page, selector=PANEL_IMAGES) -> list[dict]:
    return page.evaluate(TRANSFORMS, selector)


def in_step(found: list[dict]) -> bool:
    first = found[0]
    return all(
        abs(each["scale"] - first["scale"]) < 1e-6
        # offsetWidth and offsetHeight are whole pixels: a fraction of one apart at most.
        and abs(each["x"] - first["x"]) < 0.01
        and abs(each["y"] - first["y"]) < 0.01
        for each in found
    )


def scales(page, selector=PANEL_IMAGES) -> list[float]:
    return [round(each["scale"], 3) for each in transforms(page, selector)]


def wait_all_images_loaded(page, selector=PANEL_IMAGES):
    page.wait_for_function(
        "(s) => Array.from(document.querySelectorAll(s)).every((i) => i.complete && i.naturalWidth > 0)", arg=selector
    )


class TestCompareFromHistory:
    def test_three_selected_open_side_by_side_with_their_inputs_and_esc_goes_back(
        self, open_page, with_inputs, live_server
    ):
        page = open_page(LAPTOP, "/history/?status=complete")
        compare_button = page.get_by_role("button", name="Compare", exact=True)
        hint = page.locator("[data-compare-hint]")
        page.locator(f"#card-{with_inputs[0]} [data-select]").check()
        expect(compare_button).to_be_disabled()
        expect(hint).to_have_text("Select 2 to 4 results to compare them.")
        assert axe_violations(page) == []
        screenshot(page, "compare-one-selected-1440")
        for item_id in with_inputs[1:3]:
            page.locator(f"#card-{item_id} [data-select]").check()
        expect(compare_button).to_be_enabled()
        expect(hint).to_have_text("")

        compare_button.click()
        expect(page).to_have_url(re.compile(rf"/history/compare/\?ids={','.join(with_inputs[:3])}&status=complete$"))
        panels = page.locator("[data-compare-panel]")
        expect(panels).to_have_count(3)
        expect(page.get_by_role("heading", level=1)).to_have_text("Compare 3 results")
        for number, item_id in enumerate(with_inputs[:3], start=1):
            panel = page.locator(f"[data-compare-panel][data-item-id='{item_id}']")
            expect(panel.get_by_role("img", name=f"Garment: dress-{number}")).to_be_visible()
            expect(panel.get_by_role("img", name=f"Model photo: model-{number}")).to_be_visible()
            expect(panel.locator("dt", has_text="Rating")).to_have_count(1)
        wait_all_images_loaded(page)
        tops = [box["y"] for box in (panels.nth(n).bounding_box() for n in range(3))]
        assert max(tops) - min(tops) < 1, "side by side on a laptop"
        assert axe_violations(page) == []
        screenshot(page, "compare-three-1440")
        assert page.console_errors == []

        page.keyboard.press("Escape")
        expect(page).to_have_url(f"{live_server.url}/history/?status=complete")
        expect(page.get_by_label("Done")).to_be_checked()

    @pytest.mark.parametrize(("options", "width"), [(LAPTOP, 1440), (PHONE, 390)], ids=["laptop", "phone"])
    def test_more_than_four_selected_say_compare_takes_four(self, open_page, options, width):
        page = open_page(options, "/history/")
        boxes = page.locator("[data-select]")
        for number in range(5):
            boxes.nth(number).check()
        expect(page.get_by_role("button", name="Compare", exact=True)).to_be_disabled()
        expect(page.locator("[data-compare-hint]")).to_have_text("Compare takes 4 results at most: 5 are selected.")
        assert axe_violations(page) == []
        screenshot(page, f"compare-five-selected-{width}")


class TestZoomInStep:
    def test_wheel_on_one_panel_zooms_every_panel_to_the_same_point(self, open_page, with_inputs):
        page = open_page(LAPTOP, compare_path(with_inputs[:3]))
        wait_all_images_loaded(page)
        stage = page.locator("[data-zoom-stage]").nth(1)
        box = stage.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.25)
        page.mouse.wheel(0, -300)
        page.wait_for_function("() => document.querySelector('[data-zoom-group]').classList.contains('is-zoomed')")
        found = transforms(page)
        assert len(found) == 3 and found[0]["scale"] > 1.5
        assert in_step(found)
        # About the point under the pointer: the image moved up and left, toward that point.
        assert found[0]["x"] < 0 and found[0]["y"] < 0
        expect(page.locator("[data-zoom-level]")).not_to_have_text("100%")
        assert axe_violations(page) == []
        screenshot(page, "compare-zoomed-1440")

        # Dragging one pans all.
        before = transforms(page)[0]
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 + 40, box["y"] + box["height"] / 2 + 30, steps=4)
        page.mouse.up()
        after = transforms(page)
        assert in_step(after) and after[0]["x"] > before["x"] and after[0]["y"] > before["y"]

    def test_keys_zoom_pan_and_reset_every_panel(self, open_page, with_inputs):
        page = open_page(LAPTOP, compare_path(with_inputs[:2]))
        wait_all_images_loaded(page)
        expect(page.locator("[data-zoom-hint]")).to_be_visible()
        page.keyboard.press("+")
        assert scales(page) == [1.5, 1.5]
        page.keyboard.press("+")
        assert scales(page) == [2.25, 2.25]
        expect(page.locator("[data-zoom-level]")).to_have_text("225%")
        centred = transforms(page)[0]
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowDown")
        moved = transforms(page)
        assert in_step(moved) and moved[0]["x"] < centred["x"] and moved[0]["y"] < centred["y"]
        page.keyboard.press("-")
        assert scales(page) == [1.5, 1.5]
        page.keyboard.press("0")
        assert scales(page) == [1.0, 1.0]
        expect(page.locator("[data-zoom-level]")).to_have_text("100%")
        page.get_by_role("button", name="Zoom in").click()
        assert scales(page) == [1.5, 1.5]
        page.get_by_role("button", name="Reset").click()
        assert scales(page) == [1.0, 1.0]
        assert axe_violations(page) == []
        assert small_targets(page) == []
        assert unringed_focus_stops(page, 12) == []


class TestUnknownIds:
    def test_an_unknown_id_is_said_and_the_rest_are_shown(self, open_page, with_inputs):
        unknown = "0" * 24
        page = open_page(LAPTOP, compare_path([with_inputs[0], unknown, with_inputs[1]]))
        expect(page.locator("[data-compare-panel]")).to_have_count(2)
        missing = page.locator("[data-compare-missing]")
        expect(missing).to_contain_text("One result asked for cannot be shown; the others are below.")
        expect(missing).to_contain_text(f"{unknown}: No result with this id is in the history")
        wait_all_images_loaded(page)
        assert axe_violations(page) == []
        screenshot(page, "compare-unknown-1440")

    def test_on_a_phone_too(self, open_page, with_inputs):
        page = open_page(PHONE, compare_path([with_inputs[0], "0" * 24, with_inputs[1]]))
        expect(page.locator("[data-compare-missing]")).to_be_visible()
        wait_all_images_loaded(page)
        assert axe_violations(page) == []
        screenshot(page, "compare-unknown-390")


def pinch(page, x: float, y: float, start: float, end: float) -> None:
    """Two fingers on (x, y) spreading from `start` to `end` pixels apart, as Chromium gets them."""
    session = page.context.new_cdp_session(page)

    def points(gap):
        return [{"x": x - gap / 2, "y": y, "id": 0}, {"x": x + gap / 2, "y": y, "id": 1}]

    session.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points(start)})
    for step in range(1, 6):
        gap = start + (end - start) * step / 5
        session.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": points(gap)})
    session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


class TestOnAPhone:
    def test_four_results_two_up_and_a_pinch_zooms_them_all(self, open_page, with_inputs):
        page = open_page(PHONE, compare_path(with_inputs))
        panels = page.locator("[data-compare-panel]")
        expect(panels).to_have_count(4)
        wait_all_images_loaded(page)
        boxes = [panels.nth(n).bounding_box() for n in range(4)]
        assert abs(boxes[0]["y"] - boxes[1]["y"]) < 1 and boxes[2]["y"] > boxes[0]["y"] + boxes[0]["height"] - 1
        assert all(box["x"] >= 0 and box["x"] + box["width"] <= 390 for box in boxes), "nothing wider than the phone"
        assert axe_violations(page) == []
        screenshot(page, "compare-four-390")

        stage = page.locator("[data-zoom-stage]").first.bounding_box()
        pinch(page, stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2, 40, 140)
        found = transforms(page)
        assert found[0]["scale"] > 2
        assert in_step(found)
        assert axe_violations(page) == []
        screenshot(page, "compare-pinched-390")


class TestWithoutJavaScript:
    def test_the_images_are_still_side_by_side(self, open_page, with_inputs):
        page = open_page({**LAPTOP, "java_script_enabled": False}, compare_path(with_inputs[:3]))
        panels = page.locator("[data-compare-panel]")
        expect(panels).to_have_count(3)
        expect(page.locator("[data-zoom-tools]")).to_be_hidden()
        tops = [panels.nth(n).bounding_box()["y"] for n in range(3)]
        assert max(tops) - min(tops) < 1
        for number in range(3):
            expect(panels.nth(number).get_by_role("img", name=re.compile(r"^Result \d"))).to_be_visible()
        screenshot(page, "compare-without-javascript-1440")

    def test_compare_in_the_bulk_bar_works_as_a_plain_form(self, open_page, with_inputs):
        page = open_page({**LAPTOP, "java_script_enabled": False}, "/history/?status=complete")
        for item_id in with_inputs[:2]:
            page.locator(f"#card-{item_id} [data-select]").check()
        page.get_by_role("button", name="Compare", exact=True).click()
        expect(page).to_have_url(re.compile(rf"/history/compare/\?ids={','.join(with_inputs[:2])}&status=complete$"))
        expect(page.locator("[data-compare-panel]")).to_have_count(2)


class TestLightboxZoom:
    def open_lightbox(self, open_page, options, item_id):
        page = open_page(options, "/history/?status=complete")
        page.locator(f"#card-{item_id} .result-media").click()
        dialog = page.locator("dialog[data-lightbox]")
        expect(dialog).to_be_visible()
        wait_all_images_loaded(page, "dialog[data-lightbox] .lightbox-figure img")
        return page, dialog

    def test_wheel_and_keys_zoom_zero_resets_and_arrows_pan_only_when_zoomed(self, open_page, with_inputs):
        images = "dialog[data-lightbox] .lightbox-figure img"
        page, dialog = self.open_lightbox(open_page, LAPTOP, with_inputs[1])
        url = page.url
        expect(dialog.locator(".keyboard-hint")).to_contain_text("+ − zoom · 0 reset")
        figure = dialog.locator(".lightbox-figure").bounding_box()
        page.mouse.move(figure["x"] + figure["width"] / 2, figure["y"] + figure["height"] / 3)
        page.mouse.wheel(0, -300)
        page.wait_for_function("() => document.querySelector('.lightbox-figure').classList.contains('is-zoomed')")
        found = transforms(page, images)
        assert found[0]["scale"] > 1.5 and in_step(found)  # the before and after images alike
        assert axe_violations(page) == []
        screenshot(page, "lightbox-zoomed-1440")

        page.keyboard.press("0")
        assert set(scales(page, images)) == {1.0}
        page.keyboard.press("+")
        assert set(scales(page, images)) == {1.5}
        like = dialog.locator("[data-feedback=like]")
        liked = like.get_attribute("aria-pressed")
        page.keyboard.press("l")  # zoomed, the lightbox's own keys still work
        expect(like).not_to_have_attribute("aria-pressed", liked)
        page.keyboard.press("ArrowRight")  # zoomed: pans, stays on this result
        assert transforms(page, images)[0]["x"] < -0.25 - 0.05  # centred at 150% is -0.25: moved right
        assert page.url == url
        page.keyboard.press("-")
        assert set(scales(page, images)) == {1.0}
        page.keyboard.press("ArrowRight")  # not zoomed: the next result
        expect(page).to_have_url(re.compile(rf"/history/{with_inputs[2]}/"))
        expect(dialog).to_have_attribute("data-item-id", with_inputs[2])
        # A new result starts whole; Esc still closes.
        assert set(scales(page, images)) == {1.0}
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)

    def test_on_a_phone_a_pinch_zooms_the_lightbox(self, open_page, with_inputs):
        images = "dialog[data-lightbox] .lightbox-figure img"
        page, dialog = self.open_lightbox(open_page, PHONE, with_inputs[0])
        figure = dialog.locator(".lightbox-figure").bounding_box()
        pinch(page, figure["x"] + figure["width"] / 2, figure["y"] + figure["height"] / 2, 40, 120)
        assert scales(page, images)[0] > 1.5
        assert axe_violations(page) == []
        screenshot(page, "lightbox-zoomed-390")
