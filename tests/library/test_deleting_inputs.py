"""Deleting results keeps their input photos: images a job used are in the team library
and outlive the result. Form uploads no job used (drafts) are still bounded and pruned.

Against the real simulator over HTTP, with real files under MEDIA_ROOT.
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from dashboard.core.tokens import new as new_token
from dashboard.models import InputImage, Job
from tests.support.corpus import person_photo
from tests.support.forms import job_form

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.postgres_redis]
HTMX = {"HX-Request": "true"}


@pytest.fixture
def designer(designer, on_simulator):
    """Ada, logged into `client`, with Django on the real simulator."""
    return designer


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


class TestDeletingKeepsLibraryInputs:
    def test_deleting_a_result_keeps_its_inputs_in_the_library(self, client, designer, settings):
        job = send(client)
        inputs = [entry.image for entry in job.inputs.all()]
        assert len(inputs) == 2

        client.post(reverse("history_delete", args=[job.history_item_id]))
        response = client.post(reverse("trash_delete", args=[job.history_item_id]))
        assert response.status_code == 303
        assert not Job.objects.filter(pk=job.pk).exists()
        kept = InputImage.objects.filter(pk__in=[image.pk for image in inputs])
        assert kept.count() == 2 and all(image.in_library and image.used_at for image in kept)
        assert stored_files(settings) == files_of(kept)
        library = client.get(reverse("library")).content.decode()
        assert all(f"/inputs/{image.pk}/thumbnail" in library for image in inputs)
        assert client.get(reverse("input_image", args=[inputs[0].pk, "file"])).status_code == 200

    def test_used_inputs_are_never_pruned_however_old(self, client, designer, settings):
        job = send(client)
        client.post(reverse("history_bulk"), {"action": "delete", "ids": [job.history_item_id]})
        client.post(reverse("trash_empty"))
        InputImage.objects.update(created_at=timezone.now() - timedelta(days=400))
        call_command("prune_library", stdout=StringIO())
        call_command("prune_drafts", stdout=StringIO())
        assert InputImage.objects.count() == 2

    def test_drafts_of_a_form_not_sent_are_still_pruned(self, client, designer, settings):
        client.post(
            reverse("home"),
            {**job_form(person=person_photo(fmt="PNG")), "clothes": ""},
            headers=HTMX,
        )
        draft = InputImage.objects.get()
        assert not draft.in_library
        InputImage.objects.update(created_at=timezone.now() - timedelta(hours=settings.DRAFT_MAX_AGE_HOURS + 1))
        call_command("prune_drafts", stdout=StringIO())
        assert not InputImage.objects.exists()
        assert stored_files(settings) == set()

    def test_an_input_run_again_stays_with_both_jobs_gone(self, client, designer, settings):
        job = send(client)
        again_body = client.post(
            reverse("rerun", args=[job.history_item_id]), {"submission": new_token()}, headers=HTMX
        )
        assert again_body.status_code == 200
        again = Job.objects.exclude(pk=job.pk).get()
        inputs = set(InputImage.objects.values_list("pk", flat=True))

        for item_id in (job.history_item_id, again.history_item_id):
            client.post(reverse("history_bulk"), {"action": "delete", "ids": [item_id]})
        client.post(reverse("trash_empty"))
        assert not Job.objects.exists()
        assert set(InputImage.objects.values_list("pk", flat=True)) == inputs
        assert stored_files(settings) == files_of(InputImage.objects.all())
