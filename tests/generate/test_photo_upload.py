"""A photo uploaded as soon as it is picked (POST /photos/<slot>), and Generate sent with
references only. The upstream stubbed by `responses`, a real database and real files;
the sending against the real simulator is in test_photo_upload_flow.py."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from io import StringIO

import pytest
import responses
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard.core.tokens import new as new_token
from dashboard.models import InputImage, Job
from tests.generate.test_page import JOB_URL, api, job_posts  # noqa: F401 (api is a fixture)
from tests.support.corpus import REFUSED_UPLOADS, garment_photo, person_photo

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_redis]


def photo(name: str = "model.jpg", content: bytes | None = None, content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, person_photo() if content is None else content, content_type=content_type)


def add_photo(client, slot: str = "person", upload=None, **data):
    """The slot's upload as generate.js sends it."""
    return client.post(
        reverse("add_photo", args=[slot]),
        {"photo": upload if upload is not None else photo(), **data},
        headers={"Accept": "application/json"},
    )


def stored_files(settings) -> set[str]:
    root = settings.MEDIA_ROOT
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()} if root.exists() else set()


def send_references(client, **kept):
    """Generate as the page sends it once its photos are uploaded: references, no files."""
    fields = {f"{slot}__kept": str(pk) for slot, pk in kept.items()}
    return client.post(
        reverse("home"),
        {"tool": "fashion_swap", "submission": new_token(), **fields},
        headers={"HX-Request": "true", "HX-Target": "generate-form"},
    )


@pytest.fixture
def jobs_succeed(api):
    ids = (f"jobphoto{n:016d}" for n in range(1000))
    api.add_callback(
        responses.POST, JOB_URL, callback=lambda request: (200, {}, json.dumps({"history_item_id": next(ids)}))
    )
    return api


class TestAPhotoPicked:
    def test_is_kept_as_a_draft_of_its_slot_and_answered_as_a_reference(self, client, designer, settings):
        response = add_photo(client, "person", photo("anna.jpg"))
        assert response.status_code == 201
        answer = response.json()
        image = InputImage.objects.get()
        detail = answer.pop("detail")
        assert answer == {
            "field": "person__kept",
            "id": image.pk,
            "thumbnail": f"/inputs/{image.pk}/thumbnail",
            "name": "anna.jpg",
        }
        assert re.fullmatch(r"[\d.]+ KB · 480 × 640 px", detail)
        assert (image.owner, image.kind, image.in_library) == (designer, "person", False)
        assert InputImage.objects.drafts().filter(pk=image.pk).exists()
        assert stored_files(settings) == {image.file.name, image.thumbnail.name}
        thumbnail = client.get(answer["thumbnail"])
        assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/webp"

    @pytest.mark.parametrize(
        ("name", "filename", "make", "message"), REFUSED_UPLOADS, ids=[r[0] for r in REFUSED_UPLOADS]
    )
    def test_a_refused_file_gets_the_forms_message_and_nothing_is_kept(
        self, client, designer, settings, name, filename, make, message
    ):
        response = add_photo(client, "clothes", photo(filename, make(), "image/png"))
        assert response.status_code == 400
        assert message in response.json()["error"]
        assert not InputImage.objects.exists()
        assert stored_files(settings) == set()

    def test_a_post_without_a_file_names_the_slot(self, client, designer):
        response = client.post(reverse("add_photo", args=["room"]), {})
        assert response.status_code == 400
        assert response.json() == {"error": "Choose a file for the room photo."}

    def test_a_slot_no_tool_takes_is_not_found(self, client, designer):
        assert add_photo(client, "nosuchslot").status_code == 404
        assert not InputImage.objects.exists()

    def test_only_a_logged_in_designer_may_upload_and_only_by_post_with_the_csrf_token(self, ada):
        anonymous = add_photo(Client())
        assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(ada)
        assert add_photo(browser).status_code == 403
        assert browser.get(reverse("add_photo", args=["person"])).status_code == 405
        assert not InputImage.objects.exists()

    def test_a_body_over_the_request_limit_is_refused_with_a_sentence_the_script_reads(
        self, client, designer, settings
    ):
        settings.REQUEST_MAX_BYTES = 10_000
        response = add_photo(client, "person", photo("big.jpg", person_photo() + b"\0" * 20_000))
        assert response.status_code == 413
        assert re.fullmatch(r"This file is [\d.]+ KB; the limit is 20 MB\.", response.json()["error"])


class TestTheLimits:
    def test_over_the_photos_per_minute_it_is_refused_with_the_wait_and_nothing_is_kept(
        self, client, designer, settings
    ):
        settings.UPLOADS_PER_MINUTE = 2
        assert add_photo(client).status_code == add_photo(client).status_code == 201
        files = stored_files(settings)
        refused = add_photo(client)
        assert refused.status_code == 429
        assert re.fullmatch(
            r"You have added 2 photos in the last minute, the most allowed\. Please wait \d+ seconds? and add it "
            r"again; the rest of the form is kept\.",
            refused.json()["error"],
        )
        assert InputImage.objects.count() == 2 and stored_files(settings) == files

    def test_over_the_bytes_per_minute_too(self, client, designer, settings):
        settings.UPLOAD_BYTES_PER_MINUTE = len(person_photo()) + 10
        assert add_photo(client).status_code == 201
        assert add_photo(client).status_code == 429
        assert InputImage.objects.count() == 1

    def test_photos_uploaded_at_once_count_as_the_forms_files_do(self, client, designer, settings, jobs_succeed):
        settings.UPLOADS_PER_MINUTE = 2
        garment = add_photo(client, "clothes", photo("g.png", garment_photo(), "image/png")).json()["id"]
        person = add_photo(client, "person").json()["id"]
        # Sending the form with their references adds no photo: the job goes.
        assert "Job sent" in send_references(client, clothes=garment, person=person).content.decode()
        assert len(job_posts(jobs_succeed)) == 1

    def test_the_oldest_drafts_make_room_but_never_the_forms_other_photos(self, client, designer, settings):
        settings.DRAFTS_PER_DESIGNER = 2
        on_form = add_photo(client, "person", photo("on-form.jpg")).json()["id"]
        add_photo(client, "clothes", photo("replaced-1.png", garment_photo(), "image/png"), keep=[str(on_form)])
        add_photo(client, "clothes", photo("replaced-2.png", garment_photo(), "image/png"), keep=[str(on_form)])
        assert sorted(InputImage.objects.values_list("original_name", flat=True)) == ["on-form.jpg", "replaced-2.png"]

    def test_naming_someone_elses_photo_to_keep_does_nothing_to_it(self, client, designer, settings, bob):
        settings.DRAFTS_PER_DESIGNER = 1
        client.force_login(bob)
        bobs = add_photo(client, "person", photo("bobs.jpg")).json()["id"]
        client.force_login(designer)
        add_photo(client, "person", photo("adas-1.jpg"), keep=[str(bobs), "x", "1" * 40])
        add_photo(client, "person", photo("adas-2.jpg"), keep=[str(bobs)])
        assert sorted(InputImage.objects.values_list("original_name", flat=True)) == ["adas-2.jpg", "bobs.jpg"]

    def test_a_photo_picked_and_never_used_is_pruned_like_any_draft(self, client, designer, settings):
        picked = add_photo(client).json()["id"]
        InputImage.objects.filter(pk=picked).update(created_at=timezone.now() - timedelta(hours=25))
        call_command("prune_drafts", stdout=StringIO())
        assert not InputImage.objects.exists()
        assert stored_files(settings) == set()


class TestGenerateWithReferences:
    def test_the_job_is_sent_with_the_uploaded_photos_and_they_join_the_library(self, client, designer, jobs_succeed):
        garment = add_photo(client, "clothes", photo("red-dress.png", garment_photo(), "image/png")).json()["id"]
        person = add_photo(client, "person", photo("anna.jpg")).json()["id"]
        body = send_references(client, clothes=garment, person=person).content.decode()
        assert "Job sent" in body
        sent = job_posts(jobs_succeed)[0].request
        encoded = sent.body.to_string() if hasattr(sent.body, "to_string") else sent.body
        assert b'name="clothes"; filename="clothes.png"' in encoded
        assert b'name="person"; filename="person.jpg"' in encoded
        job = Job.objects.get()
        assert {entry.slot: entry.image_id for entry in job.inputs.all()} == {"clothes": garment, "person": person}
        assert InputImage.objects.count() == 2 and not InputImage.objects.drafts().exists()
        # The model photo stays attached for the next garment.
        assert f'name="person__kept" value="{person}"' in body

    def test_someone_elses_uploaded_photo_cannot_be_sent(self, client, designer, bob, jobs_succeed):
        client.force_login(bob)
        bobs = add_photo(client, "person", photo("bobs.jpg")).json()["id"]
        client.force_login(designer)
        garment = add_photo(client, "clothes", photo("g.png", garment_photo(), "image/png")).json()["id"]
        body = send_references(client, clothes=garment, person=bobs).content.decode()
        assert "The model photo chosen is not available to you" in body
        assert job_posts(jobs_succeed) == [] and not Job.objects.exists()

    def test_a_teammates_library_image_may_be_sent_by_reference(self, client, designer, bob, jobs_succeed):
        client.force_login(bob)
        shared = add_photo(client, "person", photo("shared.jpg")).json()["id"]
        InputImage.objects.filter(pk=shared).update(in_library=True)
        client.force_login(designer)
        garment = add_photo(client, "clothes", photo("g.png", garment_photo(), "image/png")).json()["id"]
        assert "Job sent" in send_references(client, clothes=garment, person=shared).content.decode()
        assert Job.objects.get().inputs.get(slot="person").image_id == shared
