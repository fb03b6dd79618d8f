"""What the Generate form posts, as a browser would send it."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from dashboard.core.tokens import new as new_token
from tests.support.corpus import garment_photo, person_photo


def job_form(*, person: bytes | None = None, clothes: bytes | None = None, **fields) -> dict:
    """A fashion job's form: a fresh one-time token (the form's, as drawn) and two photos."""
    return {
        "tool": "fashion_swap",
        "submission": new_token(),
        "clothes": SimpleUploadedFile("dress.png", clothes or garment_photo(), "image/png"),
        "person": SimpleUploadedFile("model.png", person or person_photo(fmt="PNG"), "image/png"),
        **fields,
    }
