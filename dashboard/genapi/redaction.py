"""Keeping the API key out of everything the upstream sends back.

Every JSON body is cleaned as it is read (transport.GenApiClient._json), before any of
it becomes a title, an id, a message or a log line; image bytes lose their metadata
before they are cached or served. An upstream may repeat the key as it is, in another
case, encoded (base64, base32, hex) at any offset of a longer encoded text, or in part:
each of those is recognised.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from typing import Any, BinaryIO

REDACTED = "[redacted]"
# Any run of this many bytes of the key, as it is or encoded, is taken for a copy of it.
FRAGMENT_LENGTH = 8
_BEARER = re.compile(r"(?i)(bearer\s+)\S+")


@dataclass(frozen=True)
class _Encoding:
    """A text encoding of bytes an upstream could wrap the key in (inside a longer text:
    "Authorization: Bearer <key>", base64-encoded, puts the key at any byte offset)."""

    encode: Callable[[bytes], bytes]
    bits_per_char: int
    bytes_per_group: int  # the offsets at which the key can start inside a group
    alphabet: str  # the characters of an encoded run (a regex class)
    fold_case: bool  # hex and base32 decode either case


_ENCODINGS = (
    _Encoding(base64.b64encode, 6, 3, "A-Za-z0-9+/", False),
    _Encoding(base64.urlsafe_b64encode, 6, 3, "A-Za-z0-9_-", False),
    _Encoding(base64.b32encode, 5, 5, "A-Za-z2-7", True),
    _Encoding(base64.b16encode, 4, 1, "0-9A-Fa-f", True),
)


def _encoded_cores(key: bytes, encoding: _Encoding) -> list[str]:
    """The characters of the key's encoding that its bytes alone decide, for each offset
    the key can start at: these appear wherever it is encoded, whatever surrounds it."""
    cores = []
    for offset in range(encoding.bytes_per_group):
        text = encoding.encode(bytes(offset) + key + bytes(encoding.bytes_per_group)).decode()
        first_bit, end_bit = 8 * offset, 8 * (offset + len(key))
        first = -(-first_bit // encoding.bits_per_char)
        end = end_bit // encoding.bits_per_char
        cores.append(text[first:end])
    return cores


def _pieces(core: str, length: int) -> set[str]:
    if len(core) <= length:
        return {core}
    return {core[i : i + length] for i in range(len(core) - length + 1)}


@dataclass(frozen=True)
class _EncodedForm:
    """The pieces of the key in one encoding, and the runs of text they can be in."""

    run: re.Pattern[str]
    pieces: frozenset[str]
    length: int
    fold_case: bool


@lru_cache(maxsize=4)
def _key_forms(api_key: str) -> tuple[re.Pattern[str] | None, tuple[_EncodedForm, ...]]:
    """The key as it is (any FRAGMENT_LENGTH characters, any case: one pattern) and in
    each encoding (sets of pieces, looked up window by window in the runs of text that
    encoding produces: faster than a pattern of hundreds of alternatives)."""
    if not api_key:
        return None, ()
    # Found at each place one starts (a lookahead), so overlapping pieces cover a whole
    # copy: found one after another, a copy's last few characters were left.
    raw = sorted(_pieces(api_key, min(FRAGMENT_LENGTH, len(api_key))), key=len, reverse=True)
    plain = re.compile("(?=(" + "|".join(re.escape(piece) for piece in raw) + "))", re.IGNORECASE)
    forms = []
    for encoding in _ENCODINGS:
        # A window of this many characters holds FRAGMENT_LENGTH bytes' worth of bits.
        length = -(-FRAGMENT_LENGTH * 8 // encoding.bits_per_char)
        pieces: set[str] = set()
        for core in _encoded_cores(api_key.encode(), encoding):
            if len(core) >= length:  # shorter: a key too short to tell from ordinary text
                pieces |= _pieces(core.lower() if encoding.fold_case else core, length)
        if pieces:
            run = re.compile(f"[{encoding.alphabet}]{{{length},}}")
            forms.append(_EncodedForm(run, frozenset(pieces), length, encoding.fold_case))
    return plain, tuple(forms)


def _key_spans(text: str, api_key: str) -> list[tuple[int, int]]:
    """Where pieces of the key are in the text, as (start, end), merged."""
    plain, forms = _key_forms(api_key)
    if plain is None:
        return []
    found = [match.span(1) for match in plain.finditer(text)]
    for form in forms:
        for run in form.run.finditer(text):
            chars = run.group().lower() if form.fold_case else run.group()
            found += [
                (run.start() + i, run.start() + i + form.length)
                for i in range(len(chars) - form.length + 1)
                if chars[i : i + form.length] in form.pieces
            ]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def redact(text: str, api_key: str) -> str:
    """The text without the key in any of its forms (as it is in any case, base64 in
    either alphabet, base32 or hex, at any offset, whole or any FRAGMENT_LENGTH bytes of
    it), and without any Authorization value."""
    spans = _key_spans(text, api_key)
    for start, end in reversed(spans):
        text = text[:start] + REDACTED + text[end:]
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
