"""Test data made with factory_boy: the rows tests need often, with every field a test
does not care about filled in.

    designer = DesignerFactory(username="ada")  # logs in with DEFAULT_PASSWORD
    image = InputImageFactory(owner=designer, original_name="a.png")  # inputs/a.png, thumbnails/a.webp
    job = JobFactory(designer=designer, history_item_id=ITEM, status=Job.Status.COMPLETE)
    cell = RunCellFactory(run=RunFactory(designer=designer), row_image=image)

An InputImageFactory row names its files without storing them: enough for everything
that does not open them. `InputImageFactory(stored=True)` stores small placeholder
files under MEDIA_ROOT; tests/support/library.py's `library_image` stores a real photo
exactly as an upload is (checked, stripped, thumbnailed).

The shared fixtures built on these (`designer`, `ada`, `bob`, `teammate`) are in
tests/conftest.py. This module needs Django set up: import it in tests, not at the top
of a conftest.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import PurePosixPath

import factory
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone
from factory.django import DjangoModelFactory

# Every designer a factory makes logs in with this (MD5-hashed in tests: fast).
DEFAULT_PASSWORD = "correct horse battery"


class DesignerFactory(DjangoModelFactory):
    """A designer: a user of the dashboard, with a usable password."""

    class Meta:
        model = settings.AUTH_USER_MODEL
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"designer{n}")
    password = factory.django.Password(DEFAULT_PASSWORD)


class InputImageFactory(DjangoModelFactory):
    """An uploaded input image's row: a 1×1 PNG by its fields, its files named after
    `original_name` (inputs/<name>, thumbnails/<stem>.webp)."""

    class Meta:
        model = "dashboard.InputImage"

    class Params:
        # Placeholder files really stored under MEDIA_ROOT (the paths then get the
        # storage's own upload_to folders and, on a clash, a suffix).
        stored = factory.Trait(
            file=factory.LazyAttribute(lambda image: ContentFile(b"x" * image.size, name=image.original_name)),
            thumbnail=factory.LazyAttribute(
                lambda image: ContentFile(b"y", name=f"{PurePosixPath(image.original_name).stem}.webp")
            ),
        )

    owner = factory.SubFactory(DesignerFactory)
    original_name = factory.Sequence(lambda n: f"photo-{n}.png")
    file = factory.LazyAttribute(lambda image: f"inputs/{image.original_name}")
    thumbnail = factory.LazyAttribute(lambda image: f"thumbnails/{PurePosixPath(image.original_name).stem}.webp")
    content_type = "image/png"
    size = 1
    width = 1
    height = 1


class JobFactory(DjangoModelFactory):
    """A job sent upstream (pending unless told), by a designer, with a 24-character id."""

    class Meta:
        model = "dashboard.Job"

    history_item_id = factory.Sequence(lambda n: f"job{n:021d}")
    designer = factory.SubFactory(DesignerFactory)
    tool = "fashion_swap"


class RunFactory(DjangoModelFactory):
    """A matrix run of Fashion Swap with garments down the rows (no columns unless told)."""

    class Meta:
        model = "dashboard.Run"

    designer = factory.SubFactory(DesignerFactory)
    designer_name = factory.LazyAttribute(lambda run: run.designer.username)
    tool = "fashion_swap"
    row_slot = "clothes"
    row_label = "Garment"


class RunCellFactory(DjangoModelFactory):
    """A cell of a run, its row's image one of the run's designer's."""

    class Meta:
        model = "dashboard.RunCell"

    run = factory.SubFactory(RunFactory)
    row = factory.Sequence(lambda n: n)
    column = 0
    row_image = factory.SubFactory(InputImageFactory, owner=factory.SelfAttribute("..run.designer"))


class IndexedResultFactory(DjangoModelFactory):
    """A result in the index as the sync records a finished one: complete, made an hour
    ago (`created_at`, which orders the gallery), seen just now."""

    class Meta:
        model = "dashboard.IndexedResult"

    history_item_id = factory.Sequence(lambda n: f"{n + 1:024x}")
    tool = "fashion_swap"
    status = "complete"
    raw_status = "complete"
    created_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    sort_at = factory.SelfAttribute("created_at")
    seen_at = factory.LazyFunction(timezone.now)
    preview_path = "/image/1.webp"
