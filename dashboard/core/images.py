"""Server-side checks and clean-up for the photos designers upload.

Photos are judged by their content, never by their name or declared type. Uploads can
be tens of megabytes, so the common path never decodes a full-resolution image:
headers are read lazily, JPEGs are test-decoded at 1/8 scale, PNG image data is
inflated and counted without being kept, and metadata is stripped by copying the file
segment by segment in 64 KiB pieces. Only a photo that needs rotating (EXIF
orientation other than 1) is fully decoded and re-encoded.

A small file must not cost much either. Before Pillow sees a file, a structure pass
whose work is capped counts its chunks, segments, scans and stray bytes, and refuses
one with more than a real image needs (HIDDEN_DATA_MESSAGE); WebP, which Pillow can
only decode whole at ~16 bytes per pixel, has a lower pixel limit than the others
(bench/upload_cpu.py prints what each kind of file costs).

Everything here is a pure function of its arguments (limits included), so it does not
depend on Django settings.
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
import threading
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Final, cast

from PIL import Image, ImageFile, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

from dashboard.core.display import describe_size, one_decimal

CHUNK_SIZE: Final = 64 * 1024

_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_SNIFF_BYTES: Final = 1024

_FORMAT_BY_CONTENT_TYPE: Final = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/webp": "WEBP",
}
_CONTENT_TYPE_BY_FORMAT: Final = {fmt: ct for ct, fmt in _FORMAT_BY_CONTENT_TYPE.items()}
_EXTENSION_BY_FORMAT: Final = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}

EMPTY_MESSAGE: Final = "This file is empty."
GIF_MESSAGE: Final = "GIF images are not supported. Please use a PNG, JPEG or WebP image."
SVG_MESSAGE: Final = "SVG drawings are not supported. Please use a PNG, JPEG or WebP photo."
UNREADABLE_MESSAGE: Final = "This file is not an image we can read. Please use a PNG, JPEG or WebP image."
DAMAGED_MESSAGE: Final = "This image is damaged or incomplete. Please export it again."
HIDDEN_DATA_MESSAGE: Final = "This file has too much hidden data for an image of its size. Please export it again."


def readable(upload: Any) -> BinaryIO:
    """An uploaded (or stored) Django file as the binary file it is: its type stubs do
    not say it reads, seeks and tells like one."""
    return cast(BinaryIO, upload)


# Caps on a file's structure. Real images stay far below them; past them, a file of a
# few MB makes the parsers (Pillow's included, one byte or chunk at a time in Python)
# and decoders work for seconds or minutes.
_MAX_PNG_CHUNKS: Final = 10_000  # libpng writes 8 KB data chunks: 2 560 in 20 MB
_MAX_WEBP_CHUNKS: Final = 10_000
_MAX_JPEG_SEGMENTS: Final = 10_000  # an ICC profile takes at most 255
_MAX_JPEG_SKIPPED_BYTES: Final = 64 * 1024  # fill or stray bytes between segments
# Each scan of a progressive JPEG is a pass over every block of the image, even when
# decoding at 1/8 scale: ~13 ms per scan at 40 MP. Encoders write 6 to ~20.
_MAX_JPEG_SCANS: Final = 64
# How far a PNG's image data may inflate past the image's own scanlines.
_MAX_PNG_EXTRA_IMAGE_DATA: Final = 64 * 1024
# Pillow decodes a WebP whole, through libwebp's animation decoder: ~16 bytes per pixel
# at once (606 MB for 6300 x 6300), where a JPEG is checked at 1/8 scale. 16 MP keeps a
# WebP's check near the cost of turning a 24 MP JPEG upright (~190 MB).
_MAX_PIXELS_BY_FORMAT: Final = {"WEBP": 16_000_000}
_FORMAT_NAMES: Final = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP"}
# Decodes running at once in one process; the others wait their turn. A worker serves
# 8 request threads: 8 WebPs at the limit decoded together would take 2 GB.
_DECODES_AT_ONCE: Final = 2
_decode_slots = threading.BoundedSemaphore(_DECODES_AT_ONCE)

SCANS_MESSAGE: Final = f"This JPEG is saved in more than {_MAX_JPEG_SCANS} progressive passes. Please export it again."


class ImageRejected(ValueError):
    """A designer-facing sentence saying why the file was refused."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ImageInfo:
    format: str  # "PNG" | "JPEG" | "WEBP"
    width: int
    height: int
    size: int  # bytes
    orientation: int  # EXIF orientation 1..8 (1 when absent)

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPE_BY_FORMAT[self.format]

    @property
    def extension(self) -> str:
        return _EXTENSION_BY_FORMAT[self.format]


class _Damaged(Exception):
    """The file's structure is broken; reported to the designer as DAMAGED_MESSAGE."""


# Whatever Pillow or our own parsers raise on a malformed or truncated file.
_DAMAGED_ERRORS: Final = (
    _Damaged,
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    zlib.error,
)


# --- Small helpers ----------------------------------------------------------------


def sniff_content_type(head: bytes) -> str | None:
    """The image type the leading bytes announce, or None if not PNG, JPEG or WebP."""
    if head.startswith(_PNG_SIGNATURE):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _file_size(fileobj: BinaryIO) -> int:
    fileobj.seek(0, os.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(0)
    return size


def _iter_exact(src: BinaryIO, length: int) -> Iterator[bytes]:
    """Yield exactly `length` bytes from src in pieces of at most CHUNK_SIZE."""
    while length > 0:
        piece = src.read(min(length, CHUNK_SIZE))
        if not piece:
            raise _Damaged("unexpected end of file")
        length -= len(piece)
        yield piece


def _read_exact(src: BinaryIO, length: int) -> bytes:
    return b"".join(_iter_exact(src, length))


def _copy_exact(src: BinaryIO, dest: BinaryIO, length: int) -> None:
    for piece in _iter_exact(src, length):
        dest.write(piece)


_PLUGIN_BY_FORMAT: Final[dict[str, Callable[[BinaryIO], ImageFile.ImageFile]]] = {
    "PNG": PngImagePlugin.PngImageFile,
    "JPEG": JpegImagePlugin.JpegImageFile,
    "WEBP": WebPImagePlugin.WebPImageFile,
}


def _open(fileobj: BinaryIO, fmt: str) -> ImageFile.ImageFile:
    """Open lazily (header only). Our own max_pixels limit, checked by the caller, is
    the authority on size, so Pillow's global decompression-bomb guard only decides
    how we open, never whether."""
    fileobj.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(fileobj, formats=[fmt])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            # Pillow's refusal does not say the dimensions; read them without it.
            fileobj.seek(0)
            return _PLUGIN_BY_FORMAT[fmt](fileobj)


_TRANSPOSE_FOR_ORIENTATION: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _apply_orientation(img: Image.Image, orientation: int) -> Image.Image:
    """Same as ImageOps.exif_transpose, but driven by the orientation inspect_image
    validated (a PNG's getexif() would otherwise decode the whole image)."""
    method = _TRANSPOSE_FOR_ORIENTATION.get(orientation)
    return img if method is None else img.transpose(method)


# --- inspect_image ----------------------------------------------------------------


def inspect_image(fileobj: BinaryIO, *, max_bytes: int, max_pixels: int, min_side: int = 32) -> ImageInfo:
    """Check an upload by content and describe it; raise ImageRejected if unusable."""
    try:
        return _inspect(fileobj, max_bytes=max_bytes, max_pixels=max_pixels, min_side=min_side)
    finally:
        fileobj.seek(0)


def _inspect(fileobj: BinaryIO, *, max_bytes: int, max_pixels: int, min_side: int) -> ImageInfo:
    size = _file_size(fileobj)
    if size == 0:
        raise ImageRejected(EMPTY_MESSAGE)
    if size > max_bytes:
        raise ImageRejected(
            f"This file is {describe_size(size, round_up=True)}; the limit is {describe_size(max_bytes)}."
        )
    head = fileobj.read(_SNIFF_BYTES)
    content_type = sniff_content_type(head)
    if content_type is None:
        raise ImageRejected(_unsupported_message(head))
    fmt = _FORMAT_BY_CONTENT_TYPE[content_type]

    try:
        _STRUCTURE_CHECKS[fmt](fileobj, size)
    except ImageRejected:
        raise
    except _DAMAGED_ERRORS as exc:
        raise ImageRejected(DAMAGED_MESSAGE) from exc
    # From open to close: Pillow's WebP reader holds the whole file and its decoder's
    # canvas, and the test decode's pixels live until the image is closed.
    with _decode_slots:
        return _inspect_pixels(fileobj, fmt, size, max_pixels=max_pixels, min_side=min_side)


def _inspect_pixels(fileobj: BinaryIO, fmt: str, size: int, *, max_pixels: int, min_side: int) -> ImageInfo:
    try:
        img = _open(fileobj, fmt)
    except _DAMAGED_ERRORS as exc:
        raise ImageRejected(DAMAGED_MESSAGE) from exc
    with img:
        width, height = img.size
        _check_dimensions(width, height, fmt, max_pixels=max_pixels, min_side=min_side)
        try:
            orientation = _verify_and_read_orientation(fileobj, fmt, img, size)
        except ImageRejected:
            raise
        except _DAMAGED_ERRORS as exc:
            raise ImageRejected(DAMAGED_MESSAGE) from exc
    return ImageInfo(fmt, width, height, size, orientation)


def _unsupported_message(head: bytes) -> str:
    if head.startswith(b"GIF8"):
        return GIF_MESSAGE
    if _looks_like_svg(head):
        return SVG_MESSAGE
    return UNREADABLE_MESSAGE


def _looks_like_svg(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg"):
        return True
    return text.startswith((b"<?xml", b"<!--", b"<!doctype svg")) and b"<svg" in text


def _check_dimensions(width: int, height: int, fmt: str, *, max_pixels: int, min_side: int) -> None:
    pixels = width * height
    megapixels = one_decimal(pixels, 1_000_000, round_up=True)
    if pixels > max_pixels:
        raise ImageRejected(
            f"This image is {width} × {height} pixels ({megapixels} megapixels); "
            f"the limit is {one_decimal(max_pixels, 1_000_000, round_up=False)} megapixels."
        )
    format_limit = _MAX_PIXELS_BY_FORMAT.get(fmt, pixels)
    if pixels > format_limit:
        name = _FORMAT_NAMES[fmt]
        raise ImageRejected(
            f"This {name} image is {width} × {height} pixels ({megapixels} megapixels); "
            f"the limit for {name} is "
            f"{one_decimal(format_limit, 1_000_000, round_up=False)} megapixels. "
            "Please save it as a JPEG or PNG, or make it smaller."
        )
    if width < min_side or height < min_side:
        raise ImageRejected(
            f"This image is only {width} × {height} pixels; it needs to be at least {min_side} pixels on each side."
        )


def _verify_and_read_orientation(fileobj: BinaryIO, fmt: str, img: ImageFile.ImageFile, size: int) -> int:
    """Detect truncation or corruption without a full-resolution decode. For JPEG this
    relies on Pillow's default ImageFile.LOAD_TRUNCATED_IMAGES = False, which this
    module never changes."""
    if fmt == "PNG":
        exif = Image.Exif()
        if exif_payload := _verify_png(fileobj):
            exif.load(exif_payload)
        return _orientation(exif)
    exif = img.getexif()  # read from the header, before decoding
    if fmt == "JPEG":
        width, height = img.size
        img.draft("RGB", (max(1, width // 8), max(1, height // 8)))
    else:
        _verify_riff_size(fileobj, size)
    img.load()
    return _orientation(exif)


def _orientation(exif: Image.Exif) -> int:
    value = exif.get(0x0112, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


# --- PNG --------------------------------------------------------------------------

_PNG_CHANNELS: Final = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# (x0, y0, dx, dy) of the seven Adam7 passes.
_ADAM7_PASSES: Final = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_MAX_EXIF_BYTES: Final = 1024 * 1024
_PNG_DROPPED_CHUNKS: Final = frozenset(
    # eXIf plus the pre-standard exIf/zxIf spellings some tools still write.
    {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"exIf", b"zxIf", b"tIME"}
)


class _InflatedSize:
    """Inflates a zlib stream fed in pieces, counting the output instead of keeping it,
    and refusing the file once the output passes `limit` bytes."""

    _MAX_OUTPUT_PER_CALL: Final = 1024 * 1024

    def __init__(self) -> None:
        self._inflater = zlib.decompressobj()
        self.total = 0
        self.limit = _MAX_PNG_EXTRA_IMAGE_DATA  # until IHDR says how large the image is

    def feed(self, data: bytes) -> None:
        # Bounded output per call: a few KB of zlib can expand to hundreds of MB.
        while data and not self._inflater.eof:
            self._count(self._inflater.decompress(data, self._MAX_OUTPUT_PER_CALL))
            data = self._inflater.unconsumed_tail

    def finish(self) -> bool:
        """Whether the stream was complete."""
        inflater = self._inflater
        while not inflater.eof and (piece := inflater.decompress(inflater.unconsumed_tail, self._MAX_OUTPUT_PER_CALL)):
            self._count(piece)
        return inflater.eof

    def _count(self, piece: bytes) -> None:
        self.total += len(piece)
        if self.total > self.limit:
            raise ImageRejected(HIDDEN_DATA_MESSAGE)


def _png_raw_size(ihdr: bytes) -> int:
    """Bytes of filtered scanlines the IDAT stream must inflate to."""
    width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    bits_per_pixel = depth * _PNG_CHANNELS[color_type]

    def scanlines(columns: int, rows: int) -> int:
        return rows * (1 + (columns * bits_per_pixel + 7) // 8) if columns else 0

    if not interlace:
        return scanlines(width, height)
    return sum(
        scanlines(-(-(width - x0) // dx), -(-(height - y0) // dy))
        for x0, y0, dx, dy in _ADAM7_PASSES
        if width > x0 and height > y0
    )


def _verify_png(src: BinaryIO) -> bytes | None:
    """Check every chunk's CRC, that IEND is reached and that the image data inflates
    to the full image, all in one streaming pass; return the eXIf payload if any."""
    src.seek(len(_PNG_SIGNATURE))
    image_data = _InflatedSize()
    raw_size: int | None = None
    exif: bytes | None = None
    while True:
        length, chunk_type = struct.unpack(">I4s", _read_exact(src, 8))
        wanted = chunk_type == b"IHDR" or (chunk_type == b"eXIf" and length <= _MAX_EXIF_BYTES)
        sink = image_data.feed if chunk_type == b"IDAT" else None
        data = _read_png_chunk_data(src, chunk_type, length, keep=wanted, sink=sink)
        if chunk_type == b"IHDR":
            raw_size = _png_raw_size(data)
            image_data.limit = raw_size + _MAX_PNG_EXTRA_IMAGE_DATA
        elif chunk_type == b"eXIf" and wanted:
            exif = data
        elif chunk_type == b"IEND":
            break
    if raw_size is None or not image_data.finish() or image_data.total < raw_size:
        raise _Damaged("PNG image data is incomplete")
    return exif


def _check_png_structure(src: BinaryIO, size: int) -> None:
    """Count the chunks, reading their headers only; refuse a file with too many. What
    else is wrong (truncation, CRCs, image data) is _verify_png's to find."""
    pos, chunks = len(_PNG_SIGNATURE), 0
    while pos + 12 <= size:
        src.seek(pos)
        length, chunk_type = struct.unpack(">I4s", _read_exact(src, 8))
        chunks += 1
        if chunks > _MAX_PNG_CHUNKS:
            raise ImageRejected(HIDDEN_DATA_MESSAGE)
        if chunk_type == b"IEND":
            return
        pos += 12 + length


def _read_png_chunk_data(
    src: BinaryIO,
    chunk_type: bytes,
    length: int,
    *,
    keep: bool,
    sink: Callable[[bytes], None] | None,
) -> bytes:
    """Stream a chunk's data through its CRC check; return it only when `keep`."""
    crc = zlib.crc32(chunk_type)
    kept: list[bytes] = []
    for piece in _iter_exact(src, length):
        crc = zlib.crc32(piece, crc)
        if sink is not None:
            sink(piece)
        if keep:
            kept.append(piece)
    (stored_crc,) = struct.unpack(">I", _read_exact(src, 4))
    if stored_crc != crc:
        raise _Damaged(f"bad CRC in PNG chunk {chunk_type!r}")
    return b"".join(kept)


def _write_png_stripped(src: BinaryIO, dest: BinaryIO) -> None:
    dest.write(_read_exact(src, len(_PNG_SIGNATURE)))
    while True:
        header = _read_exact(src, 8)
        length, chunk_type = struct.unpack(">I4s", header)
        if chunk_type in _PNG_DROPPED_CHUNKS:
            src.seek(length + 4, os.SEEK_CUR)
        else:
            dest.write(header)
            _copy_exact(src, dest, length + 4)
        if chunk_type == b"IEND":
            return


# --- JPEG -------------------------------------------------------------------------

_JPEG_SOS: Final = 0xDA
_JPEG_EOI: Final = 0xD9
# TEM, RST0-7 and SOI carry no length field.
_JPEG_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD9)})


def _keep_jpeg_segment(marker: int, payload: bytes) -> bool:
    """Keep what decoding needs (tables, frame, JFIF, ICC, Adobe colour transform);
    drop EXIF/XMP, IPTC/Photoshop, comments, MPF and other application data."""
    if marker == 0xE0:
        return payload.startswith(b"JFIF\x00")
    if marker == 0xE2:
        return payload.startswith(b"ICC_PROFILE\x00")
    if marker == 0xEE:
        return True
    return not (0xE0 <= marker <= 0xEF or marker == 0xFE)


# Searched with re (in C), never byte by byte in Python: fill, stray and stuffed bytes
# can make up nearly all of a 20 MB file.
# A marker between segments: 0xFF, then anything but fill (0xFF) or a stuffed zero.
_JPEG_MARKER_BETWEEN_SEGMENTS: Final = re.compile(rb"\xff[^\x00\xff]")
# A marker ending entropy-coded data, where RST0-7 are part of the data.
_JPEG_MARKER_AFTER_SCAN: Final = re.compile(rb"\xff[^\x00\xff\xd0-\xd7]")


def _read_jpeg_marker(src: BinaryIO, max_skipped: int | None = None) -> tuple[int | None, int]:
    """The next marker code (None at the end of the file) and how many bytes were skipped
    to reach it: fill bytes, and stray bytes decoders tolerate. More than `max_skipped`
    is refused as hidden data."""
    start = src.tell()
    head = src.read(2)
    if len(head) == 2 and head[0] == 0xFF and head[1] not in (0x00, 0xFF):
        return head[1], 0  # the common case: segments follow each other directly
    pos = start
    while len(chunk := _read_at(src, pos, CHUNK_SIZE)) >= 2:
        match = _JPEG_MARKER_BETWEEN_SEGMENTS.search(chunk)
        skipped = pos - start + (match.start() if match else len(chunk) - 1)
        if max_skipped is not None and skipped > max_skipped:
            raise ImageRejected(HIDDEN_DATA_MESSAGE)
        if match:
            src.seek(pos + match.end())
            return chunk[match.start() + 1], skipped
        pos += len(chunk) - 1  # the last byte may be the 0xFF of a marker split in two
    return None, src.tell() - start


def _read_at(src: BinaryIO, pos: int, length: int) -> bytes:
    src.seek(pos)
    return src.read(length)


def _copy_entropy_coded_data(src: BinaryIO, write: Callable[[bytes], object]) -> None:
    """Copy a scan's data; leave src at the 0xFF of the marker that ends it."""
    pos = src.tell()
    while chunk := _read_at(src, pos, CHUNK_SIZE):
        match = _JPEG_MARKER_AFTER_SCAN.search(chunk)
        if match:
            write(chunk[: match.start()])
            src.seek(pos + match.start())
            return
        # A final 0xFF may begin a marker split across two reads: re-read it.
        keep = len(chunk) - 1 if len(chunk) > 1 and chunk.endswith(b"\xff") else len(chunk)
        write(chunk[:keep])
        pos += keep


def _skip(_: bytes) -> None:
    pass


def _check_jpeg_structure(src: BinaryIO, size: int) -> None:
    """Walk the markers to the end of the image, reading segment headers and searching
    entropy-coded data in C; refuse too many segments, scans or skipped bytes. What else
    is wrong is for the decoder to find."""
    src.seek(2)  # SOI
    segments = scans = skipped = 0
    while True:
        marker, skipped_now = _read_jpeg_marker(src, _MAX_JPEG_SKIPPED_BYTES - skipped)
        skipped += skipped_now
        if marker is None or marker == _JPEG_EOI:
            return
        segments += 1
        if segments > _MAX_JPEG_SEGMENTS:
            raise ImageRejected(HIDDEN_DATA_MESSAGE)
        if marker in _JPEG_STANDALONE:
            continue
        length_field = src.read(2)
        if len(length_field) < 2:
            return
        (length,) = struct.unpack(">H", length_field)
        src.seek(length - 2, os.SEEK_CUR)
        if marker == _JPEG_SOS:
            scans += 1
            if scans > _MAX_JPEG_SCANS:
                raise ImageRejected(SCANS_MESSAGE)
            _copy_entropy_coded_data(src, _skip)


def _write_jpeg_stripped(src: BinaryIO, dest: BinaryIO) -> None:
    # Anything after EOI is dropped too: phones append MPF images (depth and gain maps)
    # there, each with its own EXIF and GPS.
    dest.write(_read_exact(src, 2))  # SOI
    while (marker := _read_jpeg_marker(src)[0]) is not None:
        code = bytes((0xFF, marker))
        if marker == _JPEG_EOI:
            dest.write(code)
            return
        if marker in _JPEG_STANDALONE:
            dest.write(code)
            continue
        length_field = _read_exact(src, 2)
        (length,) = struct.unpack(">H", length_field)
        if length < 2:
            raise _Damaged("bad JPEG segment length")
        payload = _read_exact(src, length - 2)  # at most 64 KiB by construction
        if _keep_jpeg_segment(marker, payload):
            dest.write(code + length_field + payload)
        if marker == _JPEG_SOS:
            _copy_entropy_coded_data(src, dest.write)


# --- WebP -------------------------------------------------------------------------

_WEBP_DROPPED_CHUNKS: Final = frozenset({b"EXIF", b"XMP "})
_VP8X_METADATA_FLAGS: Final = 0x08 | 0x04  # EXIF, XMP
_RIFF_HEADER_SIZE: Final = 12  # "RIFF", size, "WEBP"


def _riff_end(src: BinaryIO) -> int:
    src.seek(4)
    (riff_size,) = struct.unpack("<I", _read_exact(src, 4))
    return 8 + riff_size


def _verify_riff_size(src: BinaryIO, size: int) -> None:
    riff_end = _riff_end(src)
    if riff_end > size:
        raise _Damaged("WebP file is shorter than its RIFF header says")
    for _ in _webp_chunks(src, riff_end):
        pass


def _check_webp_structure(src: BinaryIO, size: int) -> None:
    """Count the chunks, reading their headers only; refuse a file with too many. What
    else is wrong is for _verify_riff_size and the decoder to find."""
    riff_end = min(_riff_end(src), size)
    pos, chunks = _RIFF_HEADER_SIZE, 0
    while pos + 8 <= riff_end:
        src.seek(pos)
        (chunk_size,) = struct.unpack("<4xI", _read_exact(src, 8))
        chunks += 1
        if chunks > _MAX_WEBP_CHUNKS:
            raise ImageRejected(HIDDEN_DATA_MESSAGE)
        pos += 8 + chunk_size + (chunk_size & 1)


def _webp_chunks(src: BinaryIO, riff_end: int) -> Iterator[tuple[bytes, int, int]]:
    """Yield (fourcc, payload offset, payload size) for each chunk, reading headers only."""
    pos = _RIFF_HEADER_SIZE
    while pos < riff_end:
        src.seek(pos)
        fourcc, size = struct.unpack("<4sI", _read_exact(src, 8))
        yield fourcc, pos + 8, size
        pos += 8 + size + (size & 1)
    if pos != riff_end:
        raise _Damaged("WebP chunk runs past the end of the file")


def _write_webp_stripped(src: BinaryIO, dest: BinaryIO) -> None:
    kept = [chunk for chunk in _webp_chunks(src, _riff_end(src)) if chunk[0] not in _WEBP_DROPPED_CHUNKS]
    riff_size = 4 + sum(8 + size + (size & 1) for _, _, size in kept)
    dest.write(b"RIFF" + struct.pack("<I", riff_size) + b"WEBP")
    for fourcc, offset, size in kept:
        src.seek(offset)
        dest.write(struct.pack("<4sI", fourcc, size))
        if fourcc == b"VP8X":
            flags_and_rest = bytearray(_read_exact(src, size + (size & 1)))
            flags_and_rest[0] &= ~_VP8X_METADATA_FLAGS & 0xFF
            dest.write(flags_and_rest)
        else:
            _copy_exact(src, dest, size + (size & 1))


# --- Structure checks -------------------------------------------------------------

# Run by inspect_image before Pillow parses anything: their caps bound Pillow's work too.
_STRUCTURE_CHECKS: Final[dict[str, Callable[[BinaryIO, int], None]]] = {
    "JPEG": _check_jpeg_structure,
    "PNG": _check_png_structure,
    "WEBP": _check_webp_structure,
}


# --- write_sanitized --------------------------------------------------------------

_STRIPPERS: Final[dict[str, Callable[[BinaryIO, BinaryIO], None]]] = {
    "JPEG": _write_jpeg_stripped,
    "PNG": _write_png_stripped,
    "WEBP": _write_webp_stripped,
}


def write_sanitized(fileobj: BinaryIO, info: ImageInfo, dest: BinaryIO) -> None:
    """Write the image to dest without metadata, upright. `info` comes from inspect_image."""
    fileobj.seek(0)
    try:
        if info.orientation == 1:
            _STRIPPERS[info.format](fileobj, dest)
        else:
            _write_reoriented(fileobj, info, dest)
    except _Damaged as exc:
        raise ImageRejected(DAMAGED_MESSAGE) from exc
    finally:
        fileobj.seek(0)


# Decoded-image info worth keeping on re-encode; everything else is metadata.
_PIXEL_INFO_KEYS: Final = ("icc_profile", "transparency")


def _write_reoriented(fileobj: BinaryIO, info: ImageInfo, dest: BinaryIO) -> None:
    """The one full decode: rotate the pixels so the file needs no orientation tag."""
    with _decode_slots:
        with _open(fileobj, info.format) as img:
            options = _reencode_options(img, info.format)
            upright = _apply_orientation(img, info.orientation)
            upright.info = {k: img.info[k] for k in _PIXEL_INFO_KEYS if img.info.get(k) is not None}
        # Closing the source first frees its pixels before the encoder allocates its own.
        upright.save(dest, format=info.format, **options)


def _reencode_options(img: ImageFile.ImageFile, fmt: str) -> dict[str, object]:
    icc = {"icc_profile": img.info["icc_profile"]} if img.info.get("icc_profile") else {}
    if fmt == "JPEG":
        assert isinstance(img, JpegImagePlugin.JpegImageFile)
        return {"quality": 95, "subsampling": JpegImagePlugin.get_sampling(img), **icc}
    if fmt == "PNG":
        return {"optimize": False, **icc}
    return {"quality": 95, **icc}


# --- make_thumbnail ---------------------------------------------------------------

_ALPHA_MODES: Final = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
# Rows converted to display mode and reduced at a time, so that a full-size converted
# copy never exists beside the decoded image.
_THUMBNAIL_STRIP_ROWS: Final = 256
_REDUCING_GAP: Final = 2.0  # as Image.thumbnail's default


def make_thumbnail(fileobj: BinaryIO, info: ImageInfo, max_side: int = 320) -> bytes:
    """A WebP preview, upright, whose long side is at most max_side pixels."""
    try:
        with _decode_slots, _open(fileobj, info.format) as img:
            if info.format == "JPEG":
                img.draft("RGB", (max_side, max_side))  # decode at 1/2, 1/4 or 1/8 scale
            thumb = _thumbnail_in_display_mode(img, max_side)
            thumb = _apply_orientation(thumb, info.orientation)
            out = io.BytesIO()
            # method=1: a thumbnail does not need the encoder's slow, smaller modes; this
            # is most of the CPU a job creation costs under load.
            thumb.save(out, format="WEBP", quality=80, method=1)
    finally:
        fileobj.seek(0)
    return out.getvalue()


def _thumbnail_in_display_mode(img: Image.Image, max_side: int) -> Image.Image:
    """What _to_display_mode(img).thumbnail((max_side, max_side)) makes, with the same
    two steps (reduce by whole factors, then bicubic resize), but converting and
    reducing a strip of rows at a time. Done on the whole image, converting a PNG
    (palette or grey to RGB(A), 16 bits to 8) and the premultiplied-alpha copy inside
    Pillow's resize each took one more full-size image: 309 MB for a 40 MP RGBA PNG,
    whose decoded pixels are 152 MB."""
    if img.mode == "RGB" and "transparency" not in img.info:
        # Already in display mode, and Pillow reduces RGB by whole factors first: no
        # full-size copy (strips would add one, of the reduced image).
        img.thumbnail((max_side, max_side))
        return img
    width, height = img.size
    final = _thumbnail_size(width, height, max_side)
    if final is None:
        return _to_display_mode(img)
    factor_x = max(1, int(width / final[0] / _REDUCING_GAP))
    factor_y = max(1, int(height / final[1] / _REDUCING_GAP))
    rows = factor_y * max(1, _THUMBNAIL_STRIP_ROWS // factor_y)
    reduced: Image.Image | None = None
    for top in range(0, height, rows):
        strip = _to_display_mode(img.crop((0, top, width, min(height, top + rows))))
        if strip.mode == "RGBA":  # average colours weighted by their opacity
            strip = strip.convert("RGBa")
        strip = strip.reduce((factor_x, factor_y))
        if reduced is None:
            reduced = Image.new(strip.mode, (-(-width // factor_x), -(-height // factor_y)))
        reduced.paste(strip, (0, top // factor_y))
    assert reduced is not None
    box = (0.0, 0.0, width / factor_x, height / factor_y)
    thumb = reduced.resize(final, Image.Resampling.BICUBIC, box=box)
    return thumb.convert("RGBA") if thumb.mode == "RGBa" else thumb


def _thumbnail_size(width: int, height: int, max_side: int) -> tuple[int, int] | None:
    """The size Image.thumbnail((max_side, max_side)) gives, or None if it would keep it."""
    if max_side >= width and max_side >= height:
        return None
    x = y = max_side
    aspect = width / height

    def round_aspect(number: float, key: Callable[[int], float]) -> int:
        return max(min(math.floor(number), math.ceil(number), key=key), 1)

    if x / y >= aspect:
        x = round_aspect(y * aspect, key=lambda n: abs(aspect - n / y))
    else:
        y = round_aspect(x / aspect, key=lambda n: 0 if n == 0 else abs(aspect - x / n))
    return x, y


def _to_display_mode(img: Image.Image) -> Image.Image:
    """RGB, or RGBA when the image has transparency. Converting before resizing also
    keeps palette images from being resized with nearest-neighbour sampling."""
    if img.mode.startswith("I"):
        # 16-bit greyscale: scale to 8 bits rather than let convert() clip at 255.
        img = img.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    has_alpha = img.mode in _ALPHA_MODES or "transparency" in img.info
    target = "RGBA" if has_alpha else "RGB"
    return img if img.mode == target else img.convert(target)
