"""Uploads per designer per minute, in number and in bytes: over the limit, nothing is stored.

The generate page with the upstream stubbed by `responses`, a real database and real files.
"""

from __future__ import annotations

import json
import re

import pytest
import responses

from dashboard.models import InputImage, Job
from tests.generate.test_page import JOB_URL, api, job_posts, post_job, upload  # noqa: F401 (api is a fixture)
from tests.support.corpus import garment_photo, person_photo

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_redis]


@pytest.fixture
def jobs_succeed(api):
    ids = (f"jobupload{n:04d}" for n in range(1000))
    api.add_callback(
        responses.POST, JOB_URL, callback=lambda request: (200, {}, json.dumps({"history_item_id": next(ids)}))
    )
    return api


def pair() -> dict:
    return {"clothes": upload("g.png", garment_photo()), "person": upload("m.jpg", person_photo(), "image/jpeg")}


def stored_files(settings) -> list[str]:
    root = settings.MEDIA_ROOT
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()) if root.exists() else []


class TestUploadsPerMinute:
    def test_over_the_count_the_form_says_so_and_nothing_is_stored_or_sent(
        self, client, designer, jobs_succeed, settings
    ):
        settings.UPLOADS_PER_MINUTE = 4
        post_job(client, pair())
        post_job(client, pair())
        rows, files = InputImage.objects.count(), stored_files(settings)

        body = post_job(client, pair()).content.decode()
        assert "You have added 4 photos in the last minute, the most allowed." in body
        assert re.search(r"Please wait \d+ seconds? and add it again", body)
        assert InputImage.objects.count() == rows
        assert stored_files(settings) == files
        assert len(job_posts(jobs_succeed)) == 2 and Job.objects.count() == 2

    def test_over_the_bytes_the_form_says_so_and_nothing_is_stored(self, client, designer, jobs_succeed, settings):
        one_pair = len(garment_photo()) + len(person_photo())
        settings.UPLOAD_BYTES_PER_MINUTE = one_pair + 10
        post_job(client, pair())
        rows = InputImage.objects.count()

        body = post_job(client, pair()).content.decode()
        assert "in the last minute, the most allowed" in body
        assert InputImage.objects.count() == rows
        assert len(job_posts(jobs_succeed)) == 1

    def test_a_kept_photo_stays_attached_while_the_new_one_is_refused(self, client, designer, jobs_succeed, settings):
        settings.UPLOADS_PER_MINUTE = 1
        post_job(client, {"person": upload("m.jpg", person_photo(), "image/jpeg")})  # no garment: the photo is kept
        kept = InputImage.objects.get()
        body = post_job(
            client, {"clothes": upload("g.png", garment_photo())}, person__kept=str(kept.pk)
        ).content.decode()
        assert re.search(r'id="clothes-errors"[^>]*>\s*<p>You have added 1 photo in the last minute', body)
        assert f'name="person__kept" value="{kept.pk}"' in body
        assert InputImage.objects.count() == 1 and job_posts(jobs_succeed) == []

    def test_the_limit_is_per_designer(self, client, designer, jobs_succeed, settings, bob):
        settings.UPLOADS_PER_MINUTE = 2
        post_job(client, pair())
        client.force_login(bob)
        body = post_job(client, pair()).content.decode()
        assert "in the last minute" not in body
        assert len(job_posts(jobs_succeed)) == 2


class TestPhotosReadPerRequest:
    """However many files one request carries, at most UPLOADS_PER_REQUEST are read
    (checked and decoded); the others are refused unread, each by name."""

    @pytest.fixture
    def decoded(self, monkeypatch):
        from dashboard.core import images

        seen = []
        real = images.inspect_image
        monkeypatch.setattr(images, "inspect_image", lambda *args, **kwargs: seen.append(1) or real(*args, **kwargs))
        return seen

    def test_the_library_reads_at_most_the_cap_and_names_the_rest(self, client, designer, settings, decoded):
        from django.urls import reverse

        settings.UPLOADS_PER_REQUEST = 3
        files = [upload(f"shirt-{n}.png", garment_photo(size=(300 + n, 340))) for n in range(5)]
        body = client.post(
            reverse("library_add"), {"kind": "clothes", "images": files}, headers={"HX-Request": "true"}
        ).content.decode()

        assert len(decoded) == 3
        assert InputImage.objects.count() == 3
        assert body.count("Not read: at most 3 new photos are read at once.") == 2
        assert "shirt-3.png" in body and "shirt-4.png" in body

    def test_a_runs_slots_share_the_cap(self, client, designer, settings, decoded):
        from django.urls import reverse

        from dashboard.core import tokens

        settings.UPLOADS_PER_REQUEST = 3
        client.post(
            reverse("new_run"),
            {
                "tool": "fashion_swap",
                "tool_group": "fashion",
                "submission": tokens.new(),
                "clothes": [upload(f"g{n}.png", garment_photo(size=(300 + n, 340))) for n in range(2)],
                "person": [upload(f"m{n}.png", person_photo(size=(360 + n, 480), fmt="PNG")) for n in range(2)],
            },
        )
        assert len(decoded) == 3
        assert InputImage.objects.count() == 3
