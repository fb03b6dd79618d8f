"""Refused uploads over real HTTP multipart, against the real simulator.

Each file a designer must not send (not an image, a damaged one, an SVG, a GIF, an
empty file, one pixel, a 30 000-pixel-square bomb, 25 MB) is refused on the generate
page with its own sentence, and the API never sees a job for it.
"""

from __future__ import annotations

from functools import cache

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from dashboard.core.tokens import new as new_token
from dashboard.models import InputImage, Job
from tests.security.support import HTMX
from tests.support.corpus import REFUSED_UPLOADS, garment_photo, person_photo

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@cache
def contents(name: str) -> bytes:
    return next(make for test_id, _, make, _ in REFUSED_UPLOADS if test_id == name)()


@pytest.fixture
def designer(designer, on_simulator):
    """Ada, logged into `client`, with Django on the real simulator."""
    return designer


def job_creations(simulator) -> list[dict]:
    return [entry for entry in simulator.requests() if entry["method"] == "POST"]


class TestRefusedUploads:
    @pytest.mark.parametrize(
        ("name", "filename", "make", "message"), REFUSED_UPLOADS, ids=[r[0] for r in REFUSED_UPLOADS]
    )
    @pytest.mark.parametrize("slot", ["person", "clothes"])
    @pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
    def test_each_refused_file_gets_its_message_and_no_job_reaches_the_api(
        self, client, designer, simulator, name, filename, make, message, slot, htmx
    ):
        good = {
            "person": ("model.jpg", person_photo(), "image/jpeg"),
            "clothes": ("dress.png", garment_photo(), "image/png"),
        }
        files = {
            field: SimpleUploadedFile(*(((filename, contents(name), "image/png")) if field == slot else good[field]))
            for field in ("person", "clothes")
        }
        simulator.clear_requests()
        response = client.post(
            reverse("home"), {"tool": "fashion_swap", "submission": new_token(), **files}, headers=HTMX if htmx else {}
        )
        body = response.content.decode()
        assert response.status_code == 200
        assert message in body
        assert job_creations(simulator) == []
        # Control: the log did record this submission's other upstream calls (the tool
        # catalogue it was checked against), so it would have recorded a job creation.
        assert ("GET", "/generation/tools") in [(entry["method"], entry["path"]) for entry in simulator.requests()]
        assert not Job.objects.exists()
        # Only the good photo was kept; the refused file was not stored at all.
        assert list(InputImage.objects.values_list("original_name", flat=True)) == [
            good["clothes" if slot == "person" else "person"][0]
        ]

    def test_the_control_a_good_pair_does_reach_the_api(self, client, designer, simulator):
        simulator.clear_requests()
        response = client.post(
            reverse("home"),
            {
                "tool": "fashion_swap",
                "submission": new_token(),
                "person": SimpleUploadedFile("model.jpg", person_photo(), "image/jpeg"),
                "clothes": SimpleUploadedFile("dress.png", garment_photo(), "image/png"),
            },
        )
        assert response.status_code == 303
        assert [entry["path"] for entry in job_creations(simulator)] == ["/generation/generate_image_v2/"]
