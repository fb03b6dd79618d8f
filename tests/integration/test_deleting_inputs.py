"""Deleting results frees their input photos, unless another job still uses them.

Against the real simulator over HTTP, with real files under MEDIA_ROOT.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from dashboard.jobs import new_token
from dashboard.models import InputImage, Job
from tests.support.forms import job_form

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
HTMX = {"HX-Request": "true"}


@pytest.fixture
def designer(django_user_model, client, on_simulator):
    user = django_user_model.objects.create_user(username="ada")
    client.force_login(user)
    return user


def send(client) -> Job:
    client.post(
        reverse("home"),
        job_form(),
        headers=HTMX,
    )
    return Job.objects.order_by("-id").first()


def stored_files(settings) -> set[str]:
    root = settings.MEDIA_ROOT
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()} if root.exists() else set()


def files_of(images) -> set[str]:
    return {name for image in images for name in (image.file.name, image.thumbnail.name)}


class TestDeletingFreesInputs:
    def test_deleting_a_result_removes_its_input_rows_and_files(self, client, designer, settings):
        job = send(client)
        other = send(client)
        inputs = [entry.image for entry in job.inputs.all()]
        assert len(inputs) == 2

        response = client.post(reverse("history_delete", args=[job.history_item_id]))
        assert response.status_code == 302
        assert InputImage.objects.filter(pk__in=[image.pk for image in inputs]).count() == 2  # in the trash: kept
        response = client.post(reverse("trash_delete", args=[job.history_item_id]))
        assert response.status_code == 302
        assert not InputImage.objects.filter(pk__in=[image.pk for image in inputs]).exists()
        assert stored_files(settings) == files_of(image for image in InputImage.objects.all())
        assert InputImage.objects.filter(uses__job=other).count() == 2  # the other job's stay

    def test_an_input_another_job_uses_stays_until_that_job_goes_too(self, client, designer, settings):
        job = send(client)
        again_body = client.post(reverse("rerun", args=[job.history_item_id]), {"submission": new_token()}, headers=HTMX)
        assert again_body.status_code == 200
        again = Job.objects.exclude(pk=job.pk).get()
        inputs = set(InputImage.objects.values_list("pk", flat=True))

        client.post(reverse("history_delete", args=[job.history_item_id]))
        client.post(reverse("trash_delete", args=[job.history_item_id]))
        assert set(InputImage.objects.values_list("pk", flat=True)) == inputs
        assert client.get(reverse("input_image", args=[min(inputs), "file"])).status_code == 200

        client.post(reverse("history_bulk"), {"action": "delete", "ids": [again.history_item_id]})
        client.post(reverse("trash_empty"))
        assert not InputImage.objects.exists()
        assert stored_files(settings) == set()
