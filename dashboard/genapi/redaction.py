"""Keeping the API key out of everything the upstream sends back.

Every JSON body is cleaned as it is read (transport.GenApiClient._json), before any of
it becomes a title, an id, a message or a log line; image bytes lose their metadata
before they are cached or served. An upstream may repeat the key as it is, in another
case, base64-encoded, or in part: each of those is recognised.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from functools import lru_cache
from io import BytesIO
from typing import Any, BinaryIO

REDACTED = "[redacted]"
# Any run of this many characters of the key is taken for a copy of it.
FRAGMENT_LENGTH = 8
_BEARER = re.compile(r"(?i)(bearer\s+)\S+")


@lru_cache(maxsize=4)
def _key_pattern(api_key: str) -> re.Pattern[str] | None:
    if not api_key:
        return None
    encoded = api_key.encode()
    forms = {
        api_key,
        base64.b64encode(encoded).decode().rstrip("="),
        base64.urlsafe_b64encode(encoded).decode().rstrip("="),
    }
    # Longest first, so a whole copy is replaced in one piece rather than in fragments.
    pieces = sorted(forms, key=len, reverse=True)
    if len(api_key) > FRAGMENT_LENGTH:
        pieces += [api_key[i : i + FRAGMENT_LENGTH] for i in range(len(api_key) - FRAGMENT_LENGTH + 1)]
    return re.compile("|".join(re.escape(piece) for piece in pieces), re.IGNORECASE)


def redact(text: str, api_key: str) -> str:
    """The text without the key in any of its forms, and without any Authorization value."""
    pattern = _key_pattern(api_key)
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    return _BEARER.sub(rf"\1{REDACTED}", text)


def redact_value(value: Any, api_key: str) -> Any:
    """A parsed JSON value with every string in it (keys too) redacted."""
    if isinstance(value, str):
        return redact(value, api_key)
    if isinstance(value, Mapping):
        return {redact_value(key, api_key): redact_value(inner, api_key) for key, inner in value.items()}
    if isinstance(value, list):
        return [redact_value(inner, api_key) for inner in value]
    return value


def clean_image(content: bytes) -> bytes | None:
    """The image without its metadata (text chunks, EXIF, XMP: anything could be written
    there), or None when it is not a PNG, JPEG or WebP image we can read."""
    cleaned = BytesIO()
    if clean_image_file(BytesIO(content), cleaned) is None:
        return None
    return cleaned.getvalue()


def clean_image_file(source: BinaryIO, dest: BinaryIO) -> str | None:
    """`clean_image` from file to file, in pieces (images.py never holds a whole file):
    the cleaned image's extension (".png"), or None when it is not an image we can read."""
    from django.conf import settings

    from dashboard.core import images

    size = source.seek(0, 2)
    source.seek(0)
    try:
        info = images.inspect_image(source, max_bytes=size or 1, max_pixels=settings.UPLOAD_MAX_PIXELS, min_side=1)
        images.write_sanitized(source, info, dest)
    except images.ImageRejected:
        return None
    return info.extension
