"""Library images for tests, stored exactly as an upload is (checked, stripped, thumbnailed)."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from dashboard.core import images
from dashboard.library import uploads
from dashboard.models import InputImage
from tests.support.corpus import garment_photo, person_photo


def library_image(owner, kind: str, name: str, photo: bytes | None = None) -> InputImage:
    """One image in the team library, filed under `kind` (a slot name)."""
    if photo is None:
        photo = person_photo(fmt="PNG") if kind in ("person", "room", "product") else garment_photo()
    upload = SimpleUploadedFile(f"{name}.png", photo, "image/png")
    info = images.inspect_image(upload, max_bytes=settings.UPLOAD_MAX_BYTES, max_pixels=settings.UPLOAD_MAX_PIXELS)
    image = uploads.store(owner, upload, info, kind=kind)
    InputImage.objects.filter(pk=image.pk).update(in_library=True)
    image.refresh_from_db()
    return image
