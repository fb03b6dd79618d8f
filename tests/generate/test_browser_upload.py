"""A photo is uploaded as soon as it is picked, with its progress in the slot, and
Generate then sends references only: in a real Chromium against the real simulator.

The browser's uploads are slowed (Chromium's own network emulation, through the
DevTools protocol) so that the progress can be seen moving, as on a real connection."""

import re

import pytest
from playwright.sync_api import expect

from dashboard.models import InputImage, Job
from tests.support.browser import axe_violations
from tests.support.corpus import garment_photo, grainy_person_photo
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Bytes a second the slowed browser sends: a 2 MB photo takes about 2 s.
SLOW_UPLOAD = 1_000_000

# Every state a slot's progress bar goes through, recorded as the page changes it.
WATCH_PROGRESS = """() => {
    window.progressSeen = {};
    for (const bar of document.querySelectorAll("[data-upload-progress]")) {
        const slot = bar.closest("[data-slot]").dataset.slot;
        window.progressSeen[slot] = [];
        new MutationObserver(function () {
            window.progressSeen[slot].push({ shown: !bar.hidden, value: bar.value });
        }).observe(bar, { attributes: true });
    }
}"""


@pytest.fixture
def photos(tmp_path):
    paths = {"garment": tmp_path / "red-dress.png", "person": tmp_path / "anna.jpg"}
    paths["garment"].write_bytes(garment_photo())
    paths["person"].write_bytes(grainy_person_photo())
    return paths


def slow_uploads(page, bytes_per_second: int = SLOW_UPLOAD) -> None:
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    session.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": bytes_per_second},
    )


def slot(page, name: str):
    return page.locator(f'[data-slot="{name}"]')


def generate_posts(page) -> list:
    """Every POST of the Generate form the page makes, as sent."""
    sent = []
    page.on("request", lambda request: request.method == "POST" and request.url.endswith("/") and sent.append(request))
    return sent


class TestAPhotoPicked:
    def test_is_uploaded_with_its_progress_shown_and_generate_sends_only_references(
        self, signed_in_page, live_app, photos, designer
    ):
        page = signed_in_page
        page.goto(live_app.url + "/")
        expect(page.get_by_role("heading", name="Fashion Swap")).to_be_visible()
        page.evaluate(WATCH_PROGRESS)
        slow_uploads(page)
        sent = generate_posts(page)

        page.get_by_label("Model photo").set_input_files(photos["person"])
        progress = slot(page, "person").get_by_role("progressbar", name="Upload progress")
        expect(progress).to_be_visible()
        assert axe_violations(page) == []
        person = wait_until(
            lambda: InputImage.objects.filter(original_name="anna.jpg").first(), timeout=20, message="no upload"
        )
        expect(slot(page, "person").locator("[data-kept]")).to_have_value(str(person.pk))
        expect(progress).to_be_hidden()
        seen = page.evaluate("() => window.progressSeen.person")
        values = [state["value"] for state in seen if state["shown"]]
        assert any(0 < value < 100 for value in values), f"no progress between 0 and 100 was shown: {seen}"
        assert values == sorted(values)
        # The slot shows the stored thumbnail and the photo's line; the file input is empty.
        expect(slot(page, "person").locator("[data-preview-image]")).to_have_attribute(
            "src", f"/inputs/{person.pk}/thumbnail"
        )
        expect(slot(page, "person").locator("[data-file-meta]")).to_have_text(
            re.compile(r"anna\.jpg · [\d.]+ MB · 1500 × 2000 px")
        )
        assert slot(page, "person").locator("input[type=file]").evaluate("input => input.files.length") == 0

        page.get_by_label("Garment").set_input_files(photos["garment"])
        garment = wait_until(
            lambda: InputImage.objects.filter(original_name="red-dress.png").first(), timeout=20, message="no upload"
        )
        expect(slot(page, "clothes").locator("[data-kept]")).to_have_value(str(garment.pk))
        assert InputImage.objects.drafts().count() == 2

        page.get_by_role("button", name="Generate").click()
        expect(page.get_by_text("Job sent.")).to_be_visible()
        job = Job.objects.get()
        assert {entry.slot: entry.image_id for entry in job.inputs.all()} == {
            "clothes": garment.pk,
            "person": person.pk,
        }
        (post,) = sent
        body = post.post_data_buffer
        assert len(body) < 4_000, f"Generate sent {len(body)} bytes"
        assert f'name="person__kept"\r\n\r\n{person.pk}\r\n'.encode() in body
        assert f'name="clothes__kept"\r\n\r\n{garment.pk}\r\n'.encode() in body
        assert b"image/" not in body and b"\xff\xd8" not in body
        # The model photo stays for the next garment, by its reference.
        expect(slot(page, "person").locator("[data-kept]")).to_have_value(str(person.pk))
        assert axe_violations(page) == []
        assert page.console_errors == []

    def test_generate_pressed_during_an_upload_waits_for_it_and_sends_the_reference(
        self, signed_in_page, live_app, photos
    ):
        page = signed_in_page
        page.goto(live_app.url + "/")
        page.get_by_label("Garment").set_input_files(photos["garment"])
        expect(slot(page, "clothes").locator("[data-kept]")).not_to_have_value("")
        slow_uploads(page, 500_000)
        sent = generate_posts(page)
        page.get_by_label("Model photo").set_input_files(photos["person"])
        expect(slot(page, "person").get_by_role("progressbar")).to_be_visible()
        page.get_by_role("button", name="Generate").click()
        expect(page.get_by_text("Sending…")).to_be_visible()
        page.get_by_role("button", name="Generate").click()  # impatient: still one send
        expect(page.get_by_text("Job sent.")).to_be_visible(timeout=20_000)
        person = InputImage.objects.get(original_name="anna.jpg")
        assert Job.objects.get().inputs.get(slot="person").image_id == person.pk
        (post,) = sent
        assert len(post.post_data_buffer) < 4_000
        assert page.locator(".job-card").count() == 1

    def test_a_refused_photo_says_why_at_once_and_nothing_is_kept(self, signed_in_page, live_app, tmp_path):
        page = signed_in_page
        page.goto(live_app.url + "/")
        notes = tmp_path / "notes.png"
        notes.write_bytes(b"These are my notes, not a picture.\n" * 20)
        page.get_by_label("Garment").set_input_files(notes)
        expect(slot(page, "clothes").get_by_role("alert")).to_have_text(
            "This file is not an image we can read. Please use a PNG, JPEG or WebP image."
        )
        expect(slot(page, "clothes").locator("[data-file-meta]")).to_have_text("notes.png")
        expect(slot(page, "clothes").locator("[data-kept]")).to_have_value("")
        assert slot(page, "clothes").locator("input[type=file]").evaluate("input => input.files.length") == 0
        assert axe_violations(page) == []
        assert not InputImage.objects.exists()


class TestWithoutJavaScript:
    def test_the_form_still_sends_its_files_with_the_job(self, browser, live_app, designer, client, photos):
        context = browser.new_context(java_script_enabled=False)
        client.force_login(designer)
        cookie = client.cookies["sessionid"]
        context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_app.url}])
        page = context.new_page()
        page.goto(live_app.url + "/")
        page.get_by_label("Garment").set_input_files(photos["garment"])
        page.get_by_label("Model photo").set_input_files(photos["person"])
        assert not InputImage.objects.exists()  # nothing uploads before the form is sent
        page.get_by_role("button", name="Generate").click()
        expect(page.get_by_text("Job sent")).to_be_visible()
        assert {entry.image.original_name for entry in Job.objects.get().inputs.all()} == {"red-dress.png", "anna.jpg"}
        context.close()
