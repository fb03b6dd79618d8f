"""The input library against the real simulator over HTTP: images added to the library
are sent when picked in a slot, and "Edit and run again" brings a result's inputs back."""

from __future__ import annotations

import html
import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from dashboard import genapi
from dashboard.core.tokens import new as new_token
from dashboard.models import InputImage, Job
from tests.support.corpus import garment_photo, person_photo
from tests.support.forms import job_form

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.postgres_redis]
HTMX = {"HX-Request": "true"}


@pytest.fixture
def ada(ada, on_simulator):
    """Ada, with Django on the real simulator; each test logs its designers in."""
    return ada


@pytest.fixture
def bob(bob, on_simulator):
    """Bob, with Django on the real simulator."""
    return bob


def sent_upload(simulator, job: Job, slot: str) -> bytes:
    """The bytes the simulator received for this slot of this job."""
    (path,) = (simulator.data_dir / "images" / "uploads" / job.history_item_id).glob(f"{slot}.*")
    return path.read_bytes()


def stored_bytes(image: InputImage) -> bytes:
    with default_storage.open(image.file.name, "rb") as handle:
        return handle.read()


class TestPickingFromTheLibrary:
    def test_a_teammates_library_garment_is_what_the_upstream_receives(self, client, ada, bob, simulator):
        client.force_login(bob)
        response = client.post(
            reverse("library_add"),
            {"kind": "clothes", "images": [SimpleUploadedFile("linen-shirt.png", garment_photo(), "image/png")]},
            headers=HTMX,
        )
        assert "Added 1 image to the library." in response.content.decode()
        shirt = InputImage.objects.get(name="linen-shirt")
        assert (shirt.in_library, shirt.kind, shirt.used_at) == (True, "clothes", None)

        client.force_login(ada)
        picker = client.get(reverse("library_pick") + "?slot=clothes&tool=fashion_swap", headers=HTMX).content.decode()
        assert "linen-shirt" in picker
        form = job_form()
        del form["clothes"]
        response = client.post(reverse("home"), {**form, "clothes__kept": str(shirt.pk)}, headers=HTMX)
        assert "Job sent" in response.content.decode()

        job = Job.objects.get()
        assert {entry.slot: entry.image_id for entry in job.inputs.all()}["clothes"] == shirt.pk
        assert sent_upload(simulator, job, "clothes") == stored_bytes(shirt)
        shirt.refresh_from_db()
        assert shirt.used_at is not None
        library_page = client.get(reverse("library") + "?q=linen").content.decode()
        assert "Used 1 time" in library_page


class TestEditAndRunAgain:
    def test_the_link_loads_tool_style_and_inputs_and_one_can_be_changed(self, client, ada, simulator):
        client.force_login(ada)
        style = genapi.styles("fashion_swap")[0]
        client.post(reverse("home"), job_form(style=style.id), headers=HTMX)
        job = Job.objects.get()
        inputs = {entry.slot: entry.image_id for entry in job.inputs.all()}

        lightbox = client.get(reverse("history_item", args=[job.history_item_id])).content.decode()
        match = re.search(r'href="([^"]+)">Edit and run again</a>', lightbox)
        assert match, "the lightbox has no Edit and run again link"
        url = html.unescape(match.group(1))
        assert url == f"/?tool=fashion_swap&style={style.id}&clothes={inputs['clothes']}&person={inputs['person']}"

        page = client.get(url).content.decode()
        assert re.search(rf'name="style" value="{style.id}"[^>]*\schecked', page)
        for slot, pk in inputs.items():
            assert f'name="{slot}__kept" value="{pk}"' in page

        # A new model photo, the same garment, no style.
        client.post(
            reverse("home"),
            {
                "tool": "fashion_swap",
                "submission": new_token(),
                "style": "",
                "clothes__kept": str(inputs["clothes"]),
                "person": SimpleUploadedFile("other-model.png", person_photo(size=(500, 600), fmt="PNG"), "image/png"),
            },
            headers=HTMX,
        )
        again = Job.objects.exclude(pk=job.pk).get()
        again_inputs = {entry.slot: entry.image_id for entry in again.inputs.all()}
        assert again_inputs["clothes"] == inputs["clothes"] and again_inputs["person"] != inputs["person"]
        assert again.style_id == ""
        assert sent_upload(simulator, again, "clothes") == sent_upload(simulator, job, "clothes")

    def test_a_style_no_longer_offered_is_said_and_left_unchosen(self, client, ada):
        client.force_login(ada)
        page = client.get("/?tool=fashion_swap&style=ffffffffffffffffffffffff").content.decode()
        assert "The style of that link is not offered for" in page
        assert re.search(r'name="style" value=""[^>]*\schecked', page)
