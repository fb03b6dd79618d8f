"""The generate page in a real Chromium against the real simulator; where a card must
change by itself, the sync process runs beside it (`syncing`), as in a deployment."""

import base64
import re

import pytest
from playwright.sync_api import expect

from dashboard.models import Job
from tests.support.browser import axe_violations, screenshot, small_targets, unringed_focus_stops
from tests.support.corpus import flat_photo, garment_photo, person_photo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def photos(tmp_path):
    paths = {
        "garment": tmp_path / "red-dress.png",
        "person": tmp_path / "model.jpg",
        "flat": tmp_path / "blank-wall.png",
    }
    paths["garment"].write_bytes(garment_photo())
    paths["person"].write_bytes(person_photo())
    paths["flat"].write_bytes(flat_photo())
    return paths


def file_transfer(page, content: bytes, name: str, mime: str):
    return page.evaluate_handle(
        """([b64, name, mime]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: mime }));
            return transfer;
        }""",
        [base64.b64encode(content).decode(), name, mime],
    )


def slot(page, name: str):
    return page.locator(f'[data-slot="{name}"]')


class TestGenerate:
    def test_choose_files_send_and_watch_the_card_become_the_result(
        self, signed_in_page, live_app, photos, simulator, syncing
    ):
        page = signed_in_page
        simulator.configure(job_seconds=5)  # long enough for polls that find nothing new
        tray_responses = []
        page.on("response", lambda response: "/jobs/tray" in response.url and tray_responses.append(response))
        page.goto(live_app.url + "/")
        expect(page.get_by_role("heading", name="Fashion Swap")).to_be_visible()

        page.get_by_label("Garment").set_input_files(photos["garment"])
        page.get_by_label("Model photo").set_input_files(photos["person"])
        expect(slot(page, "clothes").locator("[data-file-meta]")).to_have_text(
            re.compile(r"red-dress\.png · [\d.]+ KB · 400 × 460 px")
        )
        expect(slot(page, "person").locator("[data-file-meta]")).to_have_text(
            re.compile(r"model\.jpg · [\d.]+ KB · 480 × 640 px")
        )

        page.get_by_role("button", name="Generate").click()
        card = page.locator(".job-card").first
        expect(card).to_contain_text("Running")
        expect(page).to_have_title(re.compile(r"^\(1\) Generate"))
        # The form is ready for the next garment, the model photo still attached.
        expect(page.get_by_text("Job sent.")).to_be_visible()
        expect(slot(page, "person").locator("[data-file-meta]")).to_contain_text("model.jpg")
        expect(slot(page, "clothes").locator("[data-file-meta]")).to_have_text("")
        # The tray drawn again keeps its opt-in to notifications (notify.js) in view.
        expect(page.get_by_role("button", name="Notify me when my jobs finish")).to_be_visible()
        assert axe_violations(page) == []

        expect(card.get_by_role("img", name=re.compile("Result"))).to_be_visible(timeout=15_000)
        expect(page).to_have_title(re.compile(r"^Generate"))
        # While the job ran, polls that found nothing new came back empty; the one after it
        # finished brought the tray, which polls no more.
        polls = [(response.status, response.body()) for response in tray_responses]
        assert (204, b"") in polls
        assert polls[-1][0] == 200 and b"job-complete" in polls[-1][1]
        assert page.locator("#job-tray[hx-trigger]").count() == 0
        # Visible is not loaded: the width is read once the image has finished loading or failed.
        natural_width = card.get_by_role("img", name=re.compile("Result")).evaluate(
            """img => img.complete ? img.naturalWidth : new Promise((done) => {
                img.addEventListener("load", () => done(img.naturalWidth), {once: true});
                img.addEventListener("error", () => done(0), {once: true});
            })"""
        )
        assert natural_width > 100  # a real image, not a broken icon
        assert axe_violations(page) == []
        assert page.console_errors == []
        screenshot(page, "generate-result-1440")

        card.get_by_role("button", name="Like", exact=True).click()
        expect(card.get_by_role("button", name="Like", exact=True)).to_have_attribute("aria-pressed", "true")

    def test_a_second_garment_goes_on_the_same_model_without_choosing_it_again(self, signed_in_page, live_app, photos):
        page = signed_in_page
        page.goto(live_app.url + "/")
        page.get_by_label("Garment").set_input_files(photos["garment"])
        page.get_by_label("Model photo").set_input_files(photos["person"])
        page.get_by_role("button", name="Generate").click()
        expect(page.get_by_text("Job sent.")).to_be_visible()
        page.get_by_label("Garment").set_input_files(photos["garment"])
        page.get_by_role("button", name="Generate").click()
        expect(page.locator(".job-card")).to_have_count(2)
        person_images = {job.inputs.get(slot="person").image_id for job in Job.objects.all()}
        assert len(person_images) == 1

    def test_drop_and_paste_attach_files(self, signed_in_page, live_app):
        page = signed_in_page
        page.goto(live_app.url + "/")
        dropped = file_transfer(page, garment_photo(), "dropped-dress.png", "image/png")
        slot(page, "clothes").locator("[data-dropzone]").dispatch_event("drop", {"dataTransfer": dropped})
        expect(slot(page, "clothes").locator("[data-file-meta]")).to_contain_text("dropped-dress.png")
        expect(slot(page, "clothes").locator("[data-file-meta]")).to_contain_text("400 × 460 px")

        pasted = file_transfer(page, person_photo(fmt="PNG"), "image.png", "image/png")
        page.evaluate(
            "transfer => document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer }))", pasted
        )
        expect(slot(page, "person").locator("[data-file-meta]")).to_contain_text("480 × 640 px")

        page.get_by_role("button", name="Generate").click()
        expect(page.locator(".job-card").first).to_contain_text("Running")
        job = Job.objects.get()
        assert job.inputs.get(slot="clothes").image.original_name == "dropped-dress.png"

    def test_a_failed_job_explains_itself_and_try_again_sends_it_again(self, signed_in_page, live_app, photos, syncing):
        page = signed_in_page
        page.goto(live_app.url + "/")
        page.get_by_label("Garment").set_input_files(photos["garment"])
        page.get_by_label("Model photo").set_input_files(photos["flat"])
        page.get_by_role("button", name="Generate").click()
        card = page.locator(".job-card").first
        expect(card).to_contain_text("No person was found in the model photo", timeout=15_000)
        assert axe_violations(page) == []
        card.get_by_role("button", name="Try again").click()
        expect(page.locator(".job-card")).to_have_count(2)
        expect(page.locator(".job-card").first).to_contain_text("Running")
        assert Job.objects.count() == 2

    def test_a_refused_file_is_explained_and_the_good_one_stays(self, signed_in_page, live_app, photos, tmp_path):
        page = signed_in_page
        fake = tmp_path / "notes.png"
        fake.write_text("not an image at all " * 50)
        held = []  # the garment's upload, answered once Generate has been pressed
        page.route("**/photos/clothes", lambda route: held.append(route))
        sent = []
        page.on(
            "request", lambda request: request.method == "POST" and request.url == live_app.url + "/" and sent.append(1)
        )
        page.goto(live_app.url + "/")
        page.get_by_label("Garment").set_input_files(fake)
        page.get_by_label("Model photo").set_input_files(photos["person"])
        expect(slot(page, "person").locator("[data-file-meta]")).to_contain_text("model.jpg")
        while not held:
            page.wait_for_timeout(50)
        page.get_by_role("button", name="Generate").click()
        held[0].continue_()
        reason = slot(page, "clothes").get_by_role("alert")
        expect(reason).to_contain_text("not an image we can read")
        expect(reason).to_be_focused()
        # Pressed again: still held back, the reason still in view (sent, the form would
        # only have said "Add the garment.").
        page.get_by_role("button", name="Generate").click()
        expect(reason).to_contain_text("not an image we can read")
        expect(reason).to_be_focused()
        expect(slot(page, "person").locator("[data-file-meta]")).to_contain_text("model.jpg")
        assert sent == [] and Job.objects.count() == 0
        assert axe_violations(page) == []

    def test_keyboard_alone_reaches_tools_slots_and_the_button(self, signed_in_page, live_app):
        page = signed_in_page
        page.goto(live_app.url + "/")
        page.get_by_role("link", name="Furniture").focus()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"\?tool=furniture$"))
        expect(page.get_by_label("Room photo")).to_be_visible()
        focused = []
        for _ in range(30):
            page.keyboard.press("Tab")
            focused.append(
                page.evaluate(
                    "document.activeElement.getAttribute('name') || document.activeElement.textContent.trim()"
                )
            )
        assert "furniture" in focused and "room" in focused and "Generate" in focused

    def test_focus_goes_to_the_new_tray_card_after_generate_and_to_the_error_when_refused(
        self, signed_in_page, live_app, photos
    ):
        page = signed_in_page
        page.goto(live_app.url + "/")
        page.get_by_label("Garment").set_input_files(photos["garment"])
        page.get_by_role("button", name="Generate").focus()
        page.keyboard.press("Enter")
        error = slot(page, "person").get_by_role("alert")
        expect(error).to_contain_text("Add the model photo")
        expect(error).to_be_focused()

        page.get_by_label("Model photo").set_input_files(photos["person"])
        page.get_by_role("button", name="Generate").focus()
        page.keyboard.press("Enter")
        card = page.locator(".job-card").first
        expect(card).to_be_focused()
        assert card.get_attribute("id") == f"job-{Job.objects.get().history_item_id}"

    def test_a_skip_link_leads_to_the_photos_and_every_focus_stop_shows_a_ring(self, signed_in_page, live_app):
        page = signed_in_page
        page.goto(live_app.url + "/")
        expect(page.get_by_label("Garment")).to_be_attached()
        assert small_targets(page) == []
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to the photos")
        expect(skip).to_be_focused()
        expect(skip).to_be_in_viewport()
        page.keyboard.press("Enter")
        expect(page.locator("#photos")).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_label("Garment")).to_be_focused()
        page.goto(live_app.url + "/")
        assert unringed_focus_stops(page, 30) == []

    def test_phone_layout(self, browser, live_app, designer, client, photos, syncing):
        from django.conf import settings

        client.force_login(designer)
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_app.url,
                }
            ]
        )
        page = context.new_page()
        page.goto(live_app.url + "/")
        page.get_by_label("Garment").set_input_files(photos["garment"])
        page.get_by_label("Model photo").set_input_files(photos["person"])
        page.get_by_role("button", name="Generate").click()
        expect(page.locator(".job-card").first).to_contain_text("Running")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert axe_violations(page) == []
        screenshot(page, "generate-pending-390")
        expect(page.locator(".job-card").first.get_by_role("img", name=re.compile("Result"))).to_be_visible(
            timeout=15_000
        )
        screenshot(page, "generate-result-390")
        context.close()
