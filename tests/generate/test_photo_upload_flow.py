"""Photos uploaded when picked, then Generate with their references only: against the
real simulator over HTTP, no stubs anywhere."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from dashboard.models import InputImage, Job
from tests.generate.test_flow import tick_until_finished
from tests.generate.test_photo_upload import send_references
from tests.support.corpus import garment_photo, grainy_person_photo, person_photo

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.postgres_redis]


@pytest.fixture
def designer(designer, on_simulator):
    """Ada, logged into `client`, with Django on the real simulator."""
    return designer


def picked(client, slot: str, name: str, content: bytes, content_type: str) -> int:
    response = client.post(
        reverse("add_photo", args=[slot]),
        {"photo": SimpleUploadedFile(name, content, content_type)},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


class TestGenerateWithReferences:
    def test_creates_the_job_upstream_with_the_stored_photos_and_it_runs_to_its_result(
        self, client, designer, simulator, syncing
    ):
        garment = picked(client, "clothes", "red-dress.png", garment_photo(), "image/png")
        person = picked(client, "person", "anna.jpg", person_photo(), "image/jpeg")
        simulator.clear_requests()  # uploading asked the upstream nothing

        body = send_references(client, clothes=garment, person=person).content.decode()
        assert "Job sent" in body and "Running ·" in body
        job = Job.objects.get()
        assert {entry.slot: entry.image_id for entry in job.inputs.all()} == {"clothes": garment, "person": person}
        posts = [entry for entry in simulator.requests() if entry["method"] == "POST"]
        assert [(entry["path"], entry["status"]) for entry in posts] == [("/generation/generate_image_v2/", 200)]

        tray = tick_until_finished(client, job)
        assert job.status == "complete"
        assert f"/results/{job.history_item_id}/preview" in tray

    def test_two_photos_of_2_mb_uploaded_first_leave_generate_nothing_to_receive(self, client, designer, simulator):
        heavy = grainy_person_photo()
        assert len(heavy) > 1_900_000
        garment = picked(client, "clothes", "dress.jpg", grainy_person_photo(grain=0.52), "image/jpeg")
        person = picked(client, "person", "anna.jpg", heavy, "image/jpeg")
        assert InputImage.objects.drafts().count() == 2

        response = send_references(client, clothes=garment, person=person)
        assert "Job sent" in response.content.decode()
        assert not response.wsgi_request.FILES
        assert not InputImage.objects.drafts().exists()  # both now inputs of the job, in the library
        assert Job.objects.get().inputs.count() == 2
