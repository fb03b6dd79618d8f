"""Drafts: uploads of a form that was not sent are kept, but boundedly, and not forever.

The generate page with the upstream stubbed by `responses`, a real database and real
files; the clean-up command as cron would run it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from dashboard.models import InputImage, Job, JobInput
from tests.factories import InputImageFactory
from tests.generate.test_page import api, post_job, upload  # noqa: F401 (api is a fixture)
from tests.support.corpus import person_photo

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_redis]


def stored_files(settings) -> set[str]:
    root = settings.MEDIA_ROOT
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()} if root.exists() else set()


def files_of(images) -> set[str]:
    return {name for image in images for name in (image.file.name, image.thumbnail.name)}


def draft(client, name: str) -> tuple[InputImage, str]:
    """A model photo sent without a garment: the form comes back, the photo kept."""
    body = post_job(client, {"person": upload(name, person_photo(), "image/jpeg")}).content.decode()
    assert "Add the garment." in body
    return InputImage.objects.get(original_name=name), body


class TestDraftsAreBounded:
    def test_the_oldest_drafts_go_when_there_are_too_many(self, client, designer, api, settings):
        settings.DRAFTS_PER_DESIGNER = 3
        for index in range(6):
            latest, body = draft(client, f"photo-{index}.jpg")
        # The form still carries the photo just added: nothing to pick twice.
        assert f'name="person__kept" value="{latest.pk}"' in body
        left = InputImage.objects.filter(owner=designer)
        assert sorted(left.values_list("original_name", flat=True)) == ["photo-3.jpg", "photo-4.jpg", "photo-5.jpg"]
        assert stored_files(settings) == files_of(left)

    def test_the_oldest_drafts_go_when_they_take_too_many_bytes(self, client, designer, api, settings):
        first, _ = draft(client, "photo-0.jpg")
        settings.DRAFT_BYTES_PER_DESIGNER = first.size * 2 + 1
        for index in range(1, 5):
            draft(client, f"photo-{index}.jpg")
        left = InputImage.objects.filter(owner=designer)
        assert sorted(left.values_list("original_name", flat=True)) == ["photo-3.jpg", "photo-4.jpg"]
        assert stored_files(settings) == files_of(left)

    def test_inputs_of_jobs_and_other_designers_drafts_are_not_counted(self, client, designer, api, settings, bob):
        settings.DRAFTS_PER_DESIGNER = 1
        used, _ = draft(client, "used.jpg")
        job = Job.objects.create(history_item_id="job00000000000000000000b", designer=designer, tool="fashion_swap")
        JobInput.objects.create(job=job, slot="person", label="Model photo", image=used)
        client.force_login(bob)
        draft(client, "bobs.jpg")
        client.force_login(designer)
        draft(client, "new.jpg")
        assert sorted(InputImage.objects.values_list("original_name", flat=True)) == ["bobs.jpg", "new.jpg", "used.jpg"]


class TestPruneDrafts:
    def age(self, image: InputImage, hours: float) -> None:
        InputImage.objects.filter(pk=image.pk).update(created_at=timezone.now() - timedelta(hours=hours))

    def test_old_drafts_are_removed_rows_and_files_and_nothing_else(self, client, designer, api, settings):
        settings.DRAFT_MAX_AGE_HOURS = 24
        old, _ = draft(client, "old.jpg")
        fresh, _ = draft(client, "fresh.jpg")
        used, _ = draft(client, "used.jpg")
        job = Job.objects.create(history_item_id="job00000000000000000000c", designer=designer, tool="fashion_swap")
        JobInput.objects.create(job=job, slot="person", label="Model photo", image=used)
        self.age(old, 25)
        self.age(used, 25 * 30)
        self.age(fresh, 23)
        out = StringIO()
        call_command("prune_drafts", stdout=out)
        assert sorted(InputImage.objects.values_list("original_name", flat=True)) == ["fresh.jpg", "used.jpg"]
        assert stored_files(settings) == files_of(InputImage.objects.all())
        assert "Removed 1 draft" in out.getvalue()

    def test_the_age_is_an_option_too(self, client, designer, api, settings):
        old, _ = draft(client, "old.jpg")
        self.age(old, 2)
        call_command("prune_drafts", "--older-than-hours", "1", stdout=StringIO())
        assert not InputImage.objects.exists()
        assert stored_files(settings) == set()

    def test_a_second_run_at_the_same_time_finds_nothing_left_and_does_not_fail(self, client, designer, api, settings):
        old, _ = draft(client, "old.jpg")
        self.age(old, 1000)
        # Another machine removed the files already (or the row went between listing and deleting).
        (settings.MEDIA_ROOT / old.file.name).unlink()
        call_command("prune_drafts", stdout=StringIO())
        out = StringIO()
        call_command("prune_drafts", stdout=out)
        assert not InputImage.objects.exists()
        assert "Removed 0 drafts" in out.getvalue()
        assert out.getvalue().startswith("Removed 0 drafts (0 bytes).\n")


@pytest.mark.django_db(transaction=True)
class TestTwoMachinesPruneAtOnce:
    def test_two_runs_at_the_same_time_remove_each_draft_once_and_every_file(self, ada, settings):
        from concurrent.futures import ThreadPoolExecutor

        from django.db import connection

        for index in range(40):
            InputImageFactory(owner=ada, original_name=f"d{index}.png", size=100, stored=True)
        InputImage.objects.update(created_at=timezone.now() - timedelta(days=30))

        def run() -> str:
            out = StringIO()
            try:
                call_command("prune_drafts", stdout=out)
            finally:
                connection.close()
            return out.getvalue()

        with ThreadPoolExecutor(2) as pool:
            outputs = list(pool.map(lambda _: run(), range(2)))
        removed = [int(re.match(r"Removed (\d+) draft", out).group(1)) for out in outputs]
        assert sum(removed) == 40
        assert not InputImage.objects.exists()
        assert stored_files(settings) == set()
