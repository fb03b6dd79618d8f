"""The input library in a real Chromium against the real simulator: add files, rename and
tag one, pick it in Generate by keyboard and send it; "Edit and run again"."""

import re

import pytest
from playwright.sync_api import expect

from dashboard.models import InputImage, Job
from tests.support.browser import axe_violations, screenshot, small_targets, unringed_focus_stops
from tests.support.corpus import garment_photo, person_photo
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def photos(tmp_path):
    paths = {
        "dress": tmp_path / "red-dress.png",
        "skirt": tmp_path / "blue-skirt.png",
        "person": tmp_path / "model.jpg",
        "other_person": tmp_path / "other-model.jpg",
        "notes": tmp_path / "notes.txt",
    }
    paths["dress"].write_bytes(garment_photo())
    paths["skirt"].write_bytes(garment_photo(size=(420, 500)))
    paths["person"].write_bytes(person_photo())
    paths["other_person"].write_bytes(person_photo(size=(500, 600)))
    paths["notes"].write_bytes(b"not an image")
    return paths


def card(page, name: str):
    return page.locator(".library-card", has=page.locator(".library-name", has_text=name))


def add_to_library(page, live_app, files):
    page.goto(live_app.url + "/library/")
    page.get_by_label("Kind", exact=True).first.select_option("clothes")
    page.get_by_label("Image files").set_input_files(files)
    page.get_by_role("button", name="Add to library").click()


class TestTheLibrary:
    def test_add_two_files_rename_and_tag_one_then_pick_it_by_keyboard_and_send(self, signed_in_page, live_app, photos):
        page = signed_in_page
        page.goto(live_app.url + "/library/")
        expect(page.get_by_text("The library is empty.")).to_be_visible()
        assert axe_violations(page) == []

        page.get_by_label("Image files").set_input_files([photos["dress"], photos["skirt"], photos["notes"]])
        expect(page.locator("[data-chosen-files]")).to_have_text("3 files: red-dress.png, blue-skirt.png, notes.txt")
        page.get_by_role("button", name="Add to library").click()
        expect(page.get_by_text("Added 2 images to the library.")).to_be_visible()
        expect(page.get_by_role("alert")).to_contain_text("notes.txt")
        expect(page.locator(".library-card")).to_have_count(2)
        expect(page.locator("[data-chosen-files]")).to_have_text("")
        assert InputImage.objects.filter(in_library=True).count() == 2

        dress = card(page, "red-dress")
        dress.get_by_role("link", name="Rename or tag").click()
        expect(dress.get_by_label("Name")).to_be_focused()
        assert axe_violations(page) == []
        dress.get_by_label("Name").fill("Evening dress")
        dress.get_by_label("Tags").fill("Evening, silk")
        dress.get_by_role("button", name="Save").click()
        dress = card(page, "Evening dress")
        expect(dress.get_by_role("status")).to_have_text("Saved.")
        expect(dress.locator(".tag")).to_have_text(["evening", "silk"])
        assert axe_violations(page) == []
        assert small_targets(page) == []
        screenshot(page, "library-desktop")

        # Search as one types: the list narrows and the address follows.
        page.get_by_label("Search", exact=True).fill("silk")
        expect(page.locator(".library-card")).to_have_count(1)
        expect(page).to_have_url(re.compile(r"/library/\?q=silk$"))

        # Generate: the garment from the library, by keyboard alone.
        page.goto(live_app.url + "/")
        chooser = page.get_by_role("link", name="Choose from library for the garment")
        chooser.focus()
        page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog", name="Choose from the library")
        expect(dialog).to_be_visible()
        search = dialog.get_by_label("Search by name or tag")
        expect(search).to_be_focused()
        expect(dialog.locator("[data-pick]")).to_have_count(2)
        assert axe_violations(page) == []
        screenshot(page, "library-picker-desktop")
        page.keyboard.type("even")
        expect(dialog.locator("[data-pick]")).to_have_count(1)
        page.keyboard.press("Tab")  # "Show all kinds"
        page.keyboard.press("Tab")  # Search
        page.keyboard.press("Tab")
        expect(dialog.locator("[data-pick]")).to_be_focused()
        page.keyboard.press("Enter")
        expect(dialog).to_be_hidden()
        expect(chooser).to_be_focused()
        garment = page.locator('[data-slot="clothes"]')
        expect(garment.locator("[data-file-meta]")).to_contain_text("Evening dress · from the library")
        chosen = InputImage.objects.get(name="Evening dress")
        expect(garment.locator("[data-kept]")).to_have_value(str(chosen.pk))

        page.get_by_label("Model photo").set_input_files(photos["person"])
        page.get_by_role("button", name="Generate").click()
        expect(page.get_by_text("Job sent.")).to_be_visible()
        job = Job.objects.get()
        assert {entry.slot: entry.image_id for entry in job.inputs.all()}["clothes"] == chosen.pk

    def test_the_picker_closes_with_escape_and_searches_all_kinds(self, signed_in_page, live_app, photos):
        page = signed_in_page
        add_to_library(page, live_app, [photos["dress"]])
        expect(page.get_by_text("Added 1 image to the library.")).to_be_visible()
        page.goto(live_app.url + "/")
        page.get_by_role("link", name="Choose from library for the model photo").click()
        dialog = page.get_by_role("dialog", name="Choose from the library")
        expect(dialog.get_by_text("No model photo in the library yet.")).to_be_visible()
        dialog.get_by_label("Show all kinds").check()
        expect(dialog.locator("[data-pick]")).to_have_count(1)
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(page.get_by_role("link", name="Choose from library for the model photo")).to_be_focused()

    def test_phone_layout(self, browser, live_app, designer, client, photos):
        from django.conf import settings

        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        client.force_login(designer)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_app.url}])
        page = context.new_page()
        add_to_library(page, live_app, [photos["dress"], photos["skirt"]])
        expect(page.locator(".library-card")).to_have_count(2)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert axe_violations(page) == []
        screenshot(page, "library-phone")
        page.goto(live_app.url + "/")
        page.get_by_role("link", name="Choose from library for the garment").click()
        expect(page.get_by_role("dialog").locator("[data-pick]")).to_have_count(2)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert axe_violations(page) == []
        screenshot(page, "library-picker-phone")
        context.close()

    def test_every_focus_stop_shows_a_ring(self, signed_in_page, live_app, photos):
        page = signed_in_page
        add_to_library(page, live_app, [photos["dress"]])
        expect(page.locator(".library-card")).to_have_count(1)
        page.goto(live_app.url + "/library/")
        assert unringed_focus_stops(page, 25) == []


class TestEditAndRunAgain:
    def test_the_lightbox_link_loads_the_inputs_and_style_and_one_can_be_changed(
        self, signed_in_page, live_app, photos
    ):
        page = signed_in_page
        page.goto(live_app.url + "/")
        page.get_by_label("Garment").set_input_files(photos["dress"])
        page.get_by_label("Model photo").set_input_files(photos["person"])
        style = page.locator(".style-card").nth(1)
        style_title = style.locator(".style-title").inner_text()
        style.click()
        page.get_by_role("button", name="Generate").click()
        expect(page.get_by_text("Job sent.")).to_be_visible()
        job = wait_until(lambda: Job.objects.first(), timeout=10, message="no job was recorded")
        inputs = {entry.slot: entry.image_id for entry in job.inputs.all()}

        page.goto(live_app.url + f"/history/{job.history_item_id}/")
        page.get_by_role("link", name="Edit and run again").click()
        expect(page.get_by_role("heading", name="Fashion Swap")).to_be_visible()
        expect(page.get_by_role("radio", name=style_title)).to_be_checked()
        for slot, pk in inputs.items():
            expect(page.locator(f'[data-slot="{slot}"] [data-kept]')).to_have_value(str(pk))
            expect(page.locator(f'[data-slot="{slot}"] [data-dropzone]')).to_have_class(re.compile("has-file"))
        assert axe_violations(page) == []
        screenshot(page, "edit-and-run-again")

        page.get_by_label("Model photo").set_input_files(photos["other_person"])
        page.get_by_role("button", name="Generate").click()
        expect(page.get_by_text("Job sent.")).to_be_visible()
        again = wait_until(
            lambda: Job.objects.exclude(pk=job.pk).first(), timeout=10, message="the second job was not recorded"
        )
        again_inputs = {entry.slot: entry.image_id for entry in again.inputs.all()}
        assert again_inputs["clothes"] == inputs["clothes"] and again_inputs["person"] != inputs["person"]
        assert again.style_title == style_title


DROP_FILES = """([selector, names]) => {
    const zone = document.querySelector(selector);
    const transfer = new DataTransfer();
    for (const name of names) transfer.items.add(new File(["x"], name, { type: "image/png" }));
    const over = new DragEvent("dragover", { bubbles: true, cancelable: true, dataTransfer: transfer });
    zone.dispatchEvent(over);
    const highlighted = zone.classList.contains("is-dragging");
    zone.dispatchEvent(new DragEvent("drop", { bubbles: true, cancelable: true, dataTransfer: transfer }));
    return { accepted: over.defaultPrevented, highlighted: highlighted, after: zone.classList.contains("is-dragging") };
}"""


class TestDroppingFiles:
    """Files dragged onto a drop zone are taken by the page (the browser would open them
    otherwise): the library's file list, and each of Generate's slots."""

    def test_files_dropped_on_the_library_are_listed_to_add(self, signed_in_page, live_app):
        page = signed_in_page
        page.goto(live_app.url + "/library/")
        dropped = page.evaluate(DROP_FILES, ["[data-multi-dropzone]", ["linen.png", "wool.png"]])
        assert dropped == {"accepted": True, "highlighted": True, "after": False}
        expect(page.locator("[data-chosen-files]")).to_have_text("2 files: linen.png, wool.png")

    def test_a_file_dropped_on_a_generate_slot_fills_it(self, signed_in_page, live_app):
        page = signed_in_page
        page.goto(live_app.url + "/")
        dropped = page.evaluate(DROP_FILES, ['[data-slot="clothes"] [data-dropzone]', ["dress.png"]])
        assert dropped == {"accepted": True, "highlighted": True, "after": False}
        expect(page.locator('[data-slot="clothes"] [data-file-meta]')).to_contain_text("dress.png")
