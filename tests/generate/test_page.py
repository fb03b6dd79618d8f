"""The generate page with the upstream stubbed by `responses`, a real database and real files."""

import json
import re

import pytest
import requests
import responses
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from dashboard.core.slots import DEFAULT_SLOTS, slots_for
from dashboard.core.tokens import new as new_token
from dashboard.models import InputImage, Job
from tests.factories import InputImageFactory
from tests.support.corpus import REFUSED_UPLOADS, garment_photo, person_photo

pytestmark = pytest.mark.postgres_redis

API = "http://genapi.test"
TOOLS = [
    {"group_tool": "fashion", "tool": "fashion_swap", "title": "Fashion Swap"},
    {"group_tool": "interior", "tool": "furniture", "title": "Furniture"},
    {"group_tool": "default", "tool": "default", "title": "Default"},
]
TYPES = [{"id": "aaaaaaaaaaaaaaaaaaaaaaaa", "title": "Studio white", "preview_url": "image/t/a.webp"}]
JOB_URL = f"{API}/generation/generate_image_v2/"


def upload(name: str, content: bytes, content_type: str = "image/png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{API}/generation/tools", json=TOOLS)
        mock.get(re.compile(rf"{API}/generation/generationTypes\?tool=\w+"), json=TYPES)
        mock.get(
            re.compile(rf"{API}/user/generation-history\?.*"),
            json={"page": 1, "pages": 0, "total_count": 0, "items": []},
        )
        yield mock


def job_posts(api) -> list:
    return [call for call in api.calls if call.request.method == "POST"]


def post_job(client, files: dict, htmx: bool = True, **data):
    headers = {"HX-Request": "true", "HX-Target": "generate-form"} if htmx else {}
    """The generate form as a browser sends it, with the one-time token its page carried."""
    return client.post(
        reverse("home"), {"tool": "fashion_swap", "submission": new_token(), **data, **files}, headers=headers
    )


@pytest.mark.django_db
class TestThePage:
    def test_tools_are_grouped_and_the_chosen_tool_is_in_the_url(self, client, designer, api):
        page = client.get(reverse("home") + "?tool=furniture").content.decode()
        assert page.index("Fashion Swap") < page.index("Furniture") < page.index("Default")
        assert 'aria-current="page"' in page.split("?tool=furniture")[1][:200]
        assert 'name="furniture"' in page and 'name="room"' in page

    def test_fashion_tools_default_to_a_garment_and_a_model_photo(self, client, designer, api):
        page = client.get(reverse("home")).content.decode()
        assert "Garment" in page and "Model photo" in page
        assert "Studio white" in page

    def test_choosing_a_tool_with_htmx_returns_only_the_workspace(self, client, designer, api):
        response = client.get(
            reverse("home") + "?tool=default", headers={"HX-Request": "true", "HX-Target": "generate-workspace"}
        )
        body = response.content.decode()
        assert body.lstrip().startswith('<section class="workspace" id="generate-workspace"')
        assert "<html" not in body
        assert 'name="image"' in body

    def test_an_unknown_tool_in_the_url_says_so_and_shows_the_default_tool(self, client, designer, api):
        page = client.get(reverse("home") + "?tool=no_such_tool", follow=True).content.decode()
        assert "That tool is not offered" in page
        assert 'name="clothes"' in page

    def test_when_the_upstream_is_down_the_page_still_renders_with_a_message(self, client, designer):
        with responses.RequestsMock() as mock:
            mock.get(f"{API}/generation/tools", body=requests.ConnectionError("refused"))
            response = client.get(reverse("home"))
        assert response.status_code == 200
        assert "cannot be reached" in response.content.decode()

    def test_anonymous_designers_are_sent_to_log_in(self, client):
        response = client.get(reverse("home"))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
class TestRefusedInputs:
    @pytest.mark.parametrize(
        ("name", "filename", "make", "message"), REFUSED_UPLOADS, ids=[r[0] for r in REFUSED_UPLOADS]
    )
    def test_each_refused_file_gets_its_own_message_and_no_job_is_sent(
        self, client, designer, api, name, filename, make, message
    ):
        response = post_job(
            client, {"clothes": upload(filename, make()), "person": upload("me.jpg", person_photo(), "image/jpeg")}
        )
        body = response.content.decode()
        assert response.status_code == 200
        assert message in body
        assert job_posts(api) == []
        # The good model photo is kept and shown again: nothing to pick twice.
        kept = InputImage.objects.get(owner=designer)
        assert f'name="person__kept" value="{kept.pk}"' in body

    def test_a_missing_slot_is_named(self, client, designer, api):
        body = post_job(client, {"clothes": upload("g.png", garment_photo())}).content.decode()
        assert "Add the model photo." in body
        assert job_posts(api) == []

    def test_an_unknown_tool_is_refused_without_an_upstream_call(self, client, designer, api):
        response = client.post(reverse("home"), {"tool": "no_such_tool", "clothes": upload("g.png", garment_photo())})
        assert response.status_code == 200
        assert "That tool is not offered" in response.content.decode()
        assert job_posts(api) == []

    def test_a_kept_image_of_another_designer_cannot_be_used(self, client, designer, api, bob):
        stolen = InputImageFactory(owner=bob, original_name="x.png")
        body = post_job(
            client, {"clothes": upload("g.png", garment_photo())}, person__kept=str(stolen.pk)
        ).content.decode()
        assert "The model photo chosen is not available to you" in body
        assert job_posts(api) == []


@pytest.mark.django_db
class TestSendingAJob:
    def test_a_job_is_sent_once_remembered_and_the_model_photo_stays_attached(self, client, designer, api):
        api.post(
            JOB_URL,
            json={"preview_image": "p.webp", "stock_image": "s.png", "history_item_id": "job000000000000000000001"},
        )
        response = post_job(
            client,
            {
                "clothes": upload("red-dress.png", garment_photo()),
                "person": upload("model.jpg", person_photo(), "image/jpeg"),
            },
            style=TYPES[0]["id"],
        )
        body = response.content.decode()
        assert len(job_posts(api)) == 1
        sent = job_posts(api)[0].request
        encoded = sent.body.to_string() if hasattr(sent.body, "to_string") else sent.body
        assert b'name="generation_type"' in encoded and TYPES[0]["id"].encode() in encoded
        assert b'name="clothes"; filename="clothes.png"' in encoded
        assert b"red-dress" not in encoded  # the designer's file names stay here

        job = Job.objects.get()
        assert (job.history_item_id, job.designer, job.tool, job.style_title) == (
            "job000000000000000000001",
            designer,
            "fashion_swap",
            "Studio white",
        )
        assert [entry.slot for entry in job.inputs.all()] == ["clothes", "person"]

        person = job.inputs.get(slot="person").image
        assert "Job sent" in body
        assert f'name="person__kept" value="{person.pk}"' in body
        assert re.search(r'name="clothes__kept"(?! value)', body), "no garment is kept: the next one is another"
        # The tray arrives out of band with the new running job.
        assert 'id="job-tray"' in body and 'hx-swap-oob="true"' in body
        assert "job-job000000000000000000001" in body
        assert "<title>(1) Generate" in body

    def test_without_javascript_a_job_redirects_back_with_the_model_photo_in_the_url(self, client, designer, api):
        api.post(JOB_URL, json={"history_item_id": "job2"})
        response = post_job(
            client,
            {"clothes": upload("g.png", garment_photo()), "person": upload("m.jpg", person_photo(), "image/jpeg")},
            htmx=False,
        )
        person = Job.objects.get().inputs.get(slot="person").image
        assert response.status_code == 303
        assert response["Location"] == f"/?tool=fashion_swap&person={person.pk}"
        page = client.get(response["Location"]).content.decode()
        assert f'name="person__kept" value="{person.pk}"' in page

    def test_the_model_photo_stays_after_a_reload_and_on_another_tool(self, client, designer, api):
        api.post(JOB_URL, json={"history_item_id": "job3"})
        post_job(
            client,
            {"clothes": upload("g.png", garment_photo()), "person": upload("m.jpg", person_photo(), "image/jpeg")},
        )
        person = Job.objects.get().inputs.get(slot="person").image
        for address in ("/", "/?tool=mamasfit"):
            page = client.get(address).content.decode()
            assert f'name="person__kept" value="{person.pk}"' in page, address
            assert re.search(r'name="clothes__kept"(?! value)', page), (
                "the garment is not kept: the next one is another"
            )
        # A photo named in the address wins over the one remembered.
        other = InputImageFactory(owner=designer, original_name="x.png")
        page = client.get(f"/?person={other.pk}").content.decode()
        assert f'name="person__kept" value="{other.pk}"' in page

    def test_a_model_photo_kept_from_a_refused_form_stays_after_a_reload(self, client, designer, api):
        post_job(client, {"person": upload("m.jpg", person_photo(), "image/jpeg")})
        kept = InputImage.objects.get(owner=designer)
        assert f'name="person__kept" value="{kept.pk}"' in client.get("/").content.decode()

    def test_stored_inputs_lose_their_metadata(self, client, designer, api):
        import io

        from PIL import Image

        exif = Image.Exif()
        exif[0x010F] = "SecretCam"
        photo = io.BytesIO()
        Image.open(io.BytesIO(person_photo())).save(photo, "JPEG", exif=exif)
        api.post(JOB_URL, json={"history_item_id": "job3"})
        post_job(
            client,
            {"clothes": upload("g.png", garment_photo()), "person": upload("m.jpg", photo.getvalue(), "image/jpeg")},
        )
        stored = Job.objects.get().inputs.get(slot="person").image
        with stored.file.open("rb") as handle:
            data = handle.read()
        assert b"SecretCam" not in data
        assert not Image.open(io.BytesIO(data)).getexif()


UPSTREAM_FAILURES = [
    (
        "422-on-a-field",
        {
            "status": 422,
            "json": {"detail": [{"loc": ["body", "person"], "msg": "No face found", "type": "value_error"}]},
        },
        "No face found",
    ),
    ("400", {"status": 400, "json": {"detail": "Tool is paused"}}, "Tool is paused"),
    ("401", {"status": 401, "json": {"detail": "bad key"}}, "administrator needs to check GENAPI_API_KEY"),
    ("403", {"status": 403, "json": {"detail": "Upgrade needed"}}, "plan does not allow"),
    ("429", {"status": 429, "json": {"detail": "slow down"}, "headers": {"Retry-After": "30"}}, "about 30 seconds"),
    ("500", {"status": 500, "json": {"detail": "boom"}}, "had a problem processing"),
    ("502-html", {"status": 502, "body": "<html>Bad gateway</html>"}, "had a problem processing"),
    ("timeout", {"body": requests.exceptions.ReadTimeout()}, "took too long"),
]


@pytest.mark.django_db
class TestUpstreamRefusals:
    @pytest.mark.parametrize(("name", "reply", "message"), UPSTREAM_FAILURES, ids=[f[0] for f in UPSTREAM_FAILURES])
    def test_each_failure_is_explained_on_the_form_and_the_images_stay_attached(
        self, client, designer, api, name, reply, message
    ):
        api.post(JOB_URL, **reply)
        response = post_job(
            client,
            {"clothes": upload("g.png", garment_photo()), "person": upload("m.jpg", person_photo(), "image/jpeg")},
        )
        body = response.content.decode()
        assert response.status_code == 200
        assert message in body
        assert len(job_posts(api)) == 1  # never retried: a retry could bill a second job
        assert Job.objects.count() == 0
        for slot in ("clothes", "person"):
            assert re.search(rf'name="{slot}__kept" value="\d+"', body)
        assert InputImage.objects.filter(owner=designer).count() == 2

    def test_a_422_on_a_field_lands_on_that_field(self, client, designer, api):
        api.post(
            JOB_URL,
            status=422,
            json={"detail": [{"loc": ["body", "person"], "msg": "No face found", "type": "value_error"}]},
        )
        body = post_job(
            client,
            {"clothes": upload("g.png", garment_photo()), "person": upload("m.jpg", person_photo(), "image/jpeg")},
        ).content.decode()
        assert re.search(r'id="person-errors"[^>]*>\s*<p>No face found</p>', body)

    def test_resending_after_a_failure_uses_the_kept_images(self, client, designer, api):
        api.post(JOB_URL, status=503, json={"detail": "busy"})
        post_job(
            client,
            {"clothes": upload("g.png", garment_photo()), "person": upload("m.jpg", person_photo(), "image/jpeg")},
        )
        kept = {image.original_name: image.pk for image in InputImage.objects.filter(owner=designer)}
        api.replace(responses.POST, JOB_URL, json={"history_item_id": "job4"})
        post_job(client, {}, clothes__kept=kept["g.png"], person__kept=kept["m.jpg"])
        assert Job.objects.get().history_item_id == "job4"


class TestSlotTable:
    def test_fashion_tools_take_a_garment_and_a_model_photo_which_stays(self, settings):
        slots = slots_for("fashion_swap", "fashion")
        assert [(slot.name, slot.label, slot.keep) for slot in slots] == [
            ("clothes", "Garment", False),
            ("person", "Model photo", True),
        ]

    def test_every_group_has_slots_and_unknown_groups_fall_back_to_default(self, settings):
        assert slots_for("furniture", "interior") == DEFAULT_SLOTS["interior"]
        assert slots_for("fabric", "textile") == DEFAULT_SLOTS["textile"]
        assert slots_for("new_tool", "new_group") == DEFAULT_SLOTS["default"]

    def test_a_deployment_overrides_a_tool_in_settings(self, settings):
        settings.GENAPI_TOOL_SLOTS_JSON = json.dumps(
            {"mamasfit": [{"name": "belly", "label": "Bump photo", "keep": True}]}
        )
        assert [(s.name, s.label, s.keep) for s in slots_for("mamasfit", "fashion")] == [("belly", "Bump photo", True)]
        assert slots_for("fashion_swap", "fashion") == DEFAULT_SLOTS["fashion"]

    @pytest.mark.parametrize(
        "raw",
        ["{not json", "[]", '{"x": []}', '{"x": [{"label": "no name"}]}', '{"x": [{"name": "a"}, {"name": "a"}]}'],
    )
    def test_a_broken_override_is_refused_clearly(self, settings, raw):
        settings.GENAPI_TOOL_SLOTS_JSON = raw
        with pytest.raises(ImproperlyConfigured):
            slots_for("x", "fashion")


@pytest.mark.django_db
class TestJobRateLimit:
    def test_a_designer_over_the_limit_is_told_to_wait_and_keeps_the_images(self, client, designer, api, settings):
        settings.JOB_RATE_LIMIT_PER_MINUTE = 2
        ids = iter(["jobrate1", "jobrate2", "jobrate3"])
        api.add_callback(
            responses.POST, JOB_URL, callback=lambda request: (200, {}, json.dumps({"history_item_id": next(ids)}))
        )

        def files():
            return {
                "clothes": upload("g.png", garment_photo()),
                "person": upload("m.jpg", person_photo(), "image/jpeg"),
            }

        post_job(client, files())
        post_job(client, files())
        body = post_job(client, files()).content.decode()
        assert "You have sent 2 jobs in the last minute" in body
        assert re.search(r"Please wait \d+ seconds?", body)
        assert re.search(r'name="person__kept" value="\d+"', body) and re.search(
            r'name="clothes__kept" value="\d+"', body
        )
        assert len(job_posts(api)) == 2

    def test_the_limit_is_per_designer(self, client, designer, api, settings, bob):
        settings.JOB_RATE_LIMIT_PER_MINUTE = 1
        ids = iter(["jobrate4", "jobrate5"])
        api.add_callback(
            responses.POST, JOB_URL, callback=lambda request: (200, {}, json.dumps({"history_item_id": next(ids)}))
        )
        post_job(
            client,
            {"clothes": upload("g.png", garment_photo()), "person": upload("m.jpg", person_photo(), "image/jpeg")},
        )
        client.force_login(bob)
        body = post_job(
            client,
            {"clothes": upload("g.png", garment_photo()), "person": upload("m.jpg", person_photo(), "image/jpeg")},
        ).content.decode()
        assert "jobs in the last minute" not in body
        assert len(job_posts(api)) == 2


@pytest.mark.django_db
class TestRequestSizeLimit:
    def test_a_body_over_the_total_limit_gets_a_clear_413_page(self, client, designer, api, settings):
        settings.REQUEST_MAX_BYTES = 1024 * 1024
        big = upload("huge.png", garment_photo() + b"\0" * (2 * 1024 * 1024))
        response = client.post(reverse("home"), {"tool": "fashion_swap", "clothes": big})
        assert response.status_code == 413
        assert "too large together" in response.content.decode()
        assert "one job can send at most 1 MB" in response.content.decode()
        assert job_posts(api) == []

    def test_htmx_requests_also_get_the_message_as_an_event(self, client, designer, api, settings):
        settings.REQUEST_MAX_BYTES = 1024 * 1024
        big = upload("huge.png", b"\0" * (2 * 1024 * 1024))
        response = client.post(
            reverse("home"), {"tool": "fashion_swap", "clothes": big}, headers={"HX-Request": "true"}
        )
        assert response.status_code == 413
        assert "showMessage" in response["HX-Trigger"]
