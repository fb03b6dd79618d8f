"""Unit tests for dashboard.images: content checks, metadata stripping, thumbnails."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import (
    Image,
    ImageChops,
    ImageCms,
    ImageFile,
    ImageStat,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)

from dashboard.core.images import (
    DAMAGED_MESSAGE,
    EMPTY_MESSAGE,
    GIF_MESSAGE,
    HIDDEN_DATA_MESSAGE,
    SVG_MESSAGE,
    UNREADABLE_MESSAGE,
    ImageInfo,
    ImageRejected,
    describe_size,
    inspect_image,
    make_thumbnail,
    sniff_content_type,
    write_sanitized,
)
from tests.support import corpus

MB = 1024 * 1024
MAX_BYTES = 20 * MB
MAX_PIXELS = 40_000_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F


# --- Builders ---------------------------------------------------------------------


def noise_image(size: tuple[int, int] = (400, 300), mode: str = "RGB") -> Image.Image:
    """Photo-like content that compresses poorly, so truncation really cuts pixels."""
    bands = [Image.effect_noise(size, 60) for _ in Image.new(mode, (1, 1)).getbands()]
    return Image.merge(mode, bands)


def palette_image() -> Image.Image:
    return noise_image().convert("P")


def grey16_image(value: int) -> Image.Image:
    return Image.new("I;16", (400, 300), value)


def encode(img: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt, **options)
    return out.getvalue()


def png_chunk(chunk_type: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(chunk_type + data)
    return struct.pack(">I", len(data)) + chunk_type + data + struct.pack(">I", crc)


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk, in file order."""
    chunks, pos = [], len(PNG_SIGNATURE)
    while pos < len(data):
        length, chunk_type = struct.unpack(">I4s", data[pos : pos + 8])
        chunks.append((chunk_type, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def build_png(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return PNG_SIGNATURE + b"".join(png_chunk(t, d) for t, d in chunks)


def huge_png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return build_png([(b"IHDR", ihdr), (b"IDAT", zlib.compress(b"\0" * 64)), (b"IEND", b"")])


# (x0, y0, dx, dy) of each Adam7 pass, straight from the PNG specification.
ADAM7_PASSES = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4)]
ADAM7_PASSES += [(0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def interlaced_png(width: int, height: int) -> bytes:
    """Pillow cannot write Adam7 PNGs, so build one by hand (greyscale, filter 0)."""
    raw = bytearray()
    for x0, y0, dx, dy in ADAM7_PASSES:
        columns = len(range(x0, width, dx))
        rows = len(range(y0, height, dy))
        if columns:
            for row in range(rows):
                raw += b"\0" + bytes((row * 7 + col * 3) % 256 for col in range(columns))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 1)
    return build_png([(b"IHDR", ihdr), (b"IDAT", zlib.compress(bytes(raw))), (b"IEND", b"")])


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of each header segment up to and including the first SOS."""
    segments, pos = [], 2
    while True:
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segments.append((marker, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
        if marker == 0xDA:
            return segments


def insert_jpeg_segment(data: bytes, marker: int, payload: bytes) -> bytes:
    segment = bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + segment + data[2:]


def webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 12
    while pos < len(data):
        fourcc, size = struct.unpack("<4sI", data[pos : pos + 8])
        chunks.append((fourcc, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return chunks


def camera_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE] = "CameraMaker"
    if orientation is not None:
        exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"  # GPSLatitudeRef
    gps[2] = (48.0, 51.0, 29.0)  # GPSLatitude
    gps[3] = "E"
    gps[4] = (2.0, 17.0, 40.0)
    return exif


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def inspect(data: bytes, **limits: int) -> ImageInfo:
    options = {"max_bytes": MAX_BYTES, "max_pixels": MAX_PIXELS} | limits
    return inspect_image(io.BytesIO(data), **options)


def sanitize(data: bytes) -> bytes:
    src = io.BytesIO(data)
    info = inspect_image(src, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
    dest = io.BytesIO()
    write_sanitized(src, info, dest)
    assert src.tell() == 0
    return dest.getvalue()


def decoded(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return img.copy()


def pixels(data: bytes) -> bytes:
    return decoded(data).tobytes()


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / len(a.getbands())


# --- sniff_content_type and describe_size -----------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        pytest.param(PNG_SIGNATURE + b"\0\0\0\rIHDR", "image/png", id="png"),
        pytest.param(b"\xff\xd8\xff\xe0\0\x10JFIF", "image/jpeg", id="jpeg"),
        pytest.param(b"RIFF\x10\0\0\0WEBPVP8 ", "image/webp", id="webp"),
        pytest.param(b"RIFF\x10\0\0\0AVI LIST", None, id="avi-is-riff-but-not-webp"),
        pytest.param(b"GIF89a\x01\0\x01\0", None, id="gif"),
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg">', None, id="svg"),
        pytest.param(b"<!DOCTYPE html><html>", None, id="html"),
        pytest.param(b"", None, id="empty"),
    ],
)
def test_sniff_content_type(head: bytes, expected: str | None) -> None:
    assert sniff_content_type(head) == expected


@pytest.mark.parametrize(
    ("num_bytes", "expected"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (12, "12 bytes"),
        (1023, "1023 bytes"),
        (1024, "1 KB"),
        (1536, "1.5 KB"),
        (512 * 1024, "512 KB"),
        (20 * MB, "20 MB"),
        (25 * MB, "25 MB"),
        (int(2.5 * 1024**3), "2.5 GB"),
    ],
)
def test_describe_size(num_bytes: int, expected: str) -> None:
    assert describe_size(num_bytes) == expected


# --- inspect_image: refusals ------------------------------------------------------


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def png_with_short_image_data() -> bytes:
    """Every chunk intact (good CRCs, IEND present) but the zlib stream stops halfway."""
    chunks = png_chunks(encode(noise_image((400, 400)), "PNG"))
    image_data = b"".join(d for t, d in chunks if t == b"IDAT")
    others = [(t, d) for t, d in chunks if t not in (b"IDAT", b"IEND")]
    return build_png([*others, (b"IDAT", truncated(image_data)), (b"IEND", b"")])


def png_with_bad_crc() -> bytes:
    data = bytearray(encode(noise_image((100, 100)), "PNG"))
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


REFUSALS = [
    pytest.param(lambda: b"", {}, EMPTY_MESSAGE, id="empty-file"),
    pytest.param(
        lambda: PNG_SIGNATURE + b"\0" * (25 * MB - len(PNG_SIGNATURE)),
        {},
        "This file is 25 MB; the limit is 20 MB.",
        id="25-mb-file",
    ),
    pytest.param(
        lambda: b"Meeting notes, not a picture.\n" * 10,
        {},
        UNREADABLE_MESSAGE,
        id="text-file-named-png",
    ),
    pytest.param(
        lambda: b"<!DOCTYPE html><html><body>Hello</body></html>",
        {},
        UNREADABLE_MESSAGE,
        id="html-document",
    ),
    pytest.param(
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="9" height="9"/></svg>',
        {},
        SVG_MESSAGE,
        id="svg",
    ),
    pytest.param(
        lambda: b'\xef\xbb\xbf<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
        {},
        SVG_MESSAGE,
        id="svg-with-xml-declaration",
    ),
    pytest.param(lambda: encode(noise_image((64, 64)), "GIF"), {}, GIF_MESSAGE, id="gif"),
    pytest.param(
        lambda: PNG_SIGNATURE + b"<html><body><script>alert(1)</script></body></html>",
        {},
        DAMAGED_MESSAGE,
        id="html-behind-png-signature",
    ),
    pytest.param(
        lambda: truncated(encode(noise_image((400, 400)), "PNG")),
        {},
        DAMAGED_MESSAGE,
        id="truncated-png",
    ),
    pytest.param(png_with_short_image_data, {}, DAMAGED_MESSAGE, id="png-with-short-image-data"),
    pytest.param(png_with_bad_crc, {}, DAMAGED_MESSAGE, id="png-with-bad-crc"),
    pytest.param(
        lambda: truncated(encode(noise_image((400, 400)), "JPEG", quality=90)),
        {},
        DAMAGED_MESSAGE,
        id="truncated-jpeg",
    ),
    pytest.param(
        lambda: truncated(encode(noise_image((400, 400)), "WEBP", quality=90)),
        {},
        DAMAGED_MESSAGE,
        id="truncated-webp",
    ),
    pytest.param(
        lambda: encode(Image.new("RGB", (1, 1)), "PNG"),
        {},
        "This image is only 1 × 1 pixels; it needs to be at least 32 pixels on each side.",
        id="1x1-png",
    ),
    pytest.param(
        lambda: encode(Image.new("RGB", (400, 20)), "JPEG"),
        {"min_side": 32},
        "This image is only 400 × 20 pixels; it needs to be at least 32 pixels on each side.",
        id="thin-jpeg",
    ),
    pytest.param(
        lambda: huge_png_header(30000, 30000),
        {},
        "This image is 30000 × 30000 pixels (900 megapixels); the limit is 40 megapixels.",
        id="30000x30000-png",
    ),
    pytest.param(
        lambda: huge_png_header(7000, 6000),
        {},
        "This image is 7000 × 6000 pixels (42 megapixels); the limit is 40 megapixels.",
        id="42-megapixel-png-under-pillow-bomb-limit",
    ),
]


@pytest.mark.parametrize(("make_data", "limits", "message"), REFUSALS)
def test_inspect_image_refuses(make_data: Callable[[], bytes], limits: dict[str, int], message: str) -> None:
    fileobj = io.BytesIO(make_data())
    with pytest.raises(ImageRejected) as excinfo:
        inspect_image(fileobj, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS, **limits)
    assert excinfo.value.message == message
    assert str(excinfo.value) == message
    assert fileobj.tell() == 0


def test_pixel_limit_is_checked_from_the_header_without_decoding(
    pillow_calls: list[tuple[str, str]],
) -> None:
    with pytest.raises(ImageRejected, match="900 megapixels"):
        inspect(huge_png_header(30000, 30000))
    assert pillow_calls and ("load", "PNG") not in pillow_calls  # header read, no pixels


def test_size_limit_rounds_up_so_the_file_never_looks_within_it() -> None:
    with pytest.raises(ImageRejected) as excinfo:
        inspect(PNG_SIGNATURE + b"\0" * (20 * MB + 1000))
    assert excinfo.value.message == "This file is 20.1 MB; the limit is 20 MB."


def test_own_pixel_limit_applies_above_pillows_bomb_limit() -> None:
    # 200 MP is past Pillow's DecompressionBombError threshold; the limit we are given wins.
    with pytest.raises(ImageRejected) as excinfo:
        inspect(huge_png_header(20000, 10000), max_pixels=300_000_000)
    assert excinfo.value.message == DAMAGED_MESSAGE  # got past the size checks to the data


# --- inspect_image: acceptance ----------------------------------------------------


def cmyk_jpeg() -> bytes:
    return encode(noise_image((120, 90), "CMYK"), "JPEG", quality=90)


ACCEPTED = [
    pytest.param(lambda: encode(noise_image(), "PNG"), "PNG", id="png-rgb"),
    pytest.param(lambda: encode(noise_image(mode="RGBA"), "PNG"), "PNG", id="png-rgba"),
    pytest.param(lambda: encode(palette_image(), "PNG", transparency=0), "PNG", id="png-palette"),
    pytest.param(lambda: encode(grey16_image(40000), "PNG"), "PNG", id="png-16-bit-grey"),
    pytest.param(lambda: interlaced_png(400, 300), "PNG", id="png-interlaced"),
    pytest.param(lambda: encode(noise_image(), "JPEG", quality=90), "JPEG", id="jpeg"),
    pytest.param(lambda: encode(noise_image(), "JPEG", progressive=True), "JPEG", id="jpeg-progressive"),
    pytest.param(lambda: encode(noise_image(mode="L"), "JPEG"), "JPEG", id="jpeg-greyscale"),
    pytest.param(cmyk_jpeg, "JPEG", id="jpeg-cmyk"),
    pytest.param(lambda: encode(noise_image(), "WEBP", quality=80), "WEBP", id="webp-lossy"),
    pytest.param(lambda: encode(noise_image(mode="RGBA"), "WEBP", lossless=True), "WEBP", id="webp-lossless"),
]


@pytest.mark.parametrize(("make_data", "fmt"), ACCEPTED)
def test_inspect_image_accepts(make_data: Callable[[], bytes], fmt: str) -> None:
    data = make_data()
    expected_size = Image.open(io.BytesIO(data)).size
    fileobj = io.BytesIO(data)

    info = inspect_image(fileobj, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)

    assert info == ImageInfo(fmt, *expected_size, size=len(data), orientation=1)
    assert fileobj.tell() == 0


def test_interlaced_png_missing_one_byte_of_image_data_is_refused() -> None:
    chunks = png_chunks(interlaced_png(400, 300))
    raw = zlib.decompress(dict(chunks)[b"IDAT"])
    short = build_png([chunks[0], (b"IDAT", zlib.compress(raw[:-1])), (b"IEND", b"")])
    with pytest.raises(ImageRejected, match="damaged"):
        inspect(short)


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension"),
    [
        ("PNG", "image/png", ".png"),
        ("JPEG", "image/jpeg", ".jpg"),
        ("WEBP", "image/webp", ".webp"),
    ],
)
def test_image_info_content_type_and_extension(fmt: str, content_type: str, extension: str) -> None:
    info = ImageInfo(fmt, 100, 100, 1000, 1)
    assert (info.content_type, info.extension) == (content_type, extension)


def test_accepts_a_django_uploaded_file() -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("garment.png", encode(noise_image(), "PNG"), "image/png")
    info = inspect_image(upload, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
    assert (info.format, info.size) == ("PNG", upload.size)
    assert upload.tell() == 0


# --- inspect_image: orientation ---------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "orientation", "expected"),
    [
        ("JPEG", 6, 6),
        ("JPEG", 8, 8),
        ("JPEG", 9, 1),
        ("JPEG", 0, 1),
        ("WEBP", 3, 3),
        ("PNG", 6, 6),
    ],
)
def test_orientation_is_read_from_exif(fmt: str, orientation: int, expected: int) -> None:
    data = encode(noise_image(), fmt, exif=camera_exif(orientation))
    assert inspect(data).orientation == expected


def test_png_orientation_is_read_from_an_exif_chunk_after_the_image_data() -> None:
    chunks = png_chunks(encode(noise_image(), "PNG"))
    exif = camera_exif(orientation=6).tobytes()
    data = build_png([*chunks[:-1], (b"eXIf", exif), chunks[-1]])
    assert inspect(data).orientation == 6


# --- write_sanitized --------------------------------------------------------------


def test_jpeg_loses_exif_gps_xmp_comments_and_trailers_but_not_pixels_or_icc() -> None:
    icc = srgb_profile()
    original = encode(
        noise_image(),
        "JPEG",
        quality=90,
        exif=camera_exif(),
        comment=b"shot at home",
        icc_profile=icc,
        xmp=b"<x:xmpmeta>GPS here</x:xmpmeta>",
    )
    original = insert_jpeg_segment(original, 0xED, b"Photoshop 3.0\x008BIM iptc city")
    original = insert_jpeg_segment(original, 0xE2, b"FPXR\x00\x00 flashpix extension")
    original += b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00GPS!\xff\xd9"  # MPF-style trailer

    clean = sanitize(original)

    markers = {marker for marker, _ in jpeg_segments(clean)}
    assert markers.isdisjoint({0xE1, 0xED, 0xFE})
    app2_payloads = [payload for marker, payload in jpeg_segments(clean) if marker == 0xE2]
    assert app2_payloads and all(p.startswith(b"ICC_PROFILE") for p in app2_payloads)
    assert b"GPS" not in clean and b"shot at home" not in clean and b"CameraMaker" not in clean
    assert clean.endswith(b"\xff\xd9")
    with Image.open(io.BytesIO(clean)) as img:
        assert not img.getexif()
        assert img.info.get("icc_profile") == icc
    assert pixels(clean) == pixels(original)
    assert inspect(clean).orientation == 1


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"progressive": True}, id="progressive"),
        pytest.param({"restart_marker_rows": 1}, id="restart-markers"),
        pytest.param({"quality": 100, "subsampling": 0}, id="quality-100-444"),
    ],
)
def test_jpeg_scan_structure_survives_stripping(options: dict[str, object]) -> None:
    original = encode(noise_image((333, 222)), "JPEG", exif=camera_exif(), **options)
    clean = sanitize(original)
    assert pixels(clean) == pixels(original)
    assert len(clean) < len(original)


def test_jpeg_with_fill_bytes_between_segments_is_copied_faithfully() -> None:
    original = encode(noise_image(), "JPEG", exif=camera_exif())
    padded = original[:2] + b"\xff\xff\xff" + original[2:]
    clean = sanitize(padded)
    assert pixels(clean) == pixels(original)
    assert b"CameraMaker" not in clean


def test_cmyk_jpeg_keeps_its_adobe_segment_and_colours() -> None:
    original = cmyk_jpeg()
    clean = sanitize(original)
    assert 0xEE in {marker for marker, _ in jpeg_segments(clean)}
    assert pixels(clean) == pixels(original)


def test_png_loses_text_time_and_exif_chunks_but_not_pixels() -> None:
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "Jane Designer")
    text.add_text("Comment", "compressed secret", zip=True)
    text.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>GPS</x:xmpmeta>")
    text.add(b"tIME", struct.pack(">HBBBBB", 2024, 5, 1, 12, 0, 0))
    icc = srgb_profile()
    original = encode(noise_image(mode="RGBA"), "PNG", pnginfo=text, exif=camera_exif(), icc_profile=icc)

    clean = sanitize(original)

    kept = [chunk_type for chunk_type, _ in png_chunks(clean)]
    assert {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"}.isdisjoint(kept)
    assert kept[0] == b"IHDR" and kept[-1] == b"IEND" and b"iCCP" in kept
    assert pixels(clean) == pixels(original)
    assert inspect(clean).format == "PNG"


def test_webp_loses_exif_and_xmp_and_its_header_stays_consistent() -> None:
    original = encode(
        noise_image(mode="RGBA"),
        "WEBP",
        lossless=True,
        exif=camera_exif(),
        xmp=b"<x:xmpmeta>GPS</x:xmpmeta>",
    )
    assert {b"EXIF", b"XMP "} <= {fourcc for fourcc, _ in webp_chunks(original)}

    clean = sanitize(original)

    chunks = webp_chunks(clean)
    assert {b"EXIF", b"XMP "}.isdisjoint(fourcc for fourcc, _ in chunks)
    flags = dict(chunks)[b"VP8X"][0]
    assert flags & 0x0C == 0 and flags & 0x10  # metadata flags cleared, alpha kept
    assert struct.unpack("<I", clean[4:8])[0] == len(clean) - 8
    with Image.open(io.BytesIO(clean)) as img:
        assert "exif" not in img.info and "xmp" not in img.info
    assert pixels(clean) == pixels(original)
    assert inspect(clean).format == "WEBP"


def odd_length(data: bytes) -> bytes:
    return data if len(data) % 2 else data + b"\0"


def test_webp_odd_sized_chunks_keep_their_padding() -> None:
    icc, exif = odd_length(srgb_profile()), odd_length(camera_exif().tobytes())
    original = encode(noise_image((101, 77)), "WEBP", quality=70, icc_profile=icc, exif=exif)
    assert len(dict(webp_chunks(original))[b"ICCP"]) % 2 == 1

    clean = sanitize(original)

    assert struct.unpack("<I", clean[4:8])[0] == len(clean) - 8
    assert dict(webp_chunks(clean))[b"ICCP"] == icc
    assert pixels(clean) == pixels(original)


def test_rotated_jpeg_is_turned_upright_and_loses_its_exif() -> None:
    gradient = Image.linear_gradient("L").resize((200, 300))
    reversed_gradient = gradient.transpose(Image.Transpose.ROTATE_180)
    stored = Image.merge("RGB", (gradient, reversed_gradient, gradient))
    original = encode(stored, "JPEG", quality=95, exif=camera_exif(orientation=6))
    assert inspect(original).orientation == 6

    clean = sanitize(original)

    info = inspect(clean)
    assert (info.width, info.height, info.orientation) == (300, 200, 1)
    with Image.open(io.BytesIO(clean)) as img:
        assert not img.getexif()
    turned = decoded(original)
    assert mean_difference(decoded(clean), turned.transpose(Image.Transpose.ROTATE_270)) < 1
    assert mean_difference(decoded(clean), turned.transpose(Image.Transpose.ROTATE_90)) > 20


def test_rotated_png_is_turned_upright_losslessly() -> None:
    original = encode(noise_image((300, 200), "RGBA"), "PNG", exif=camera_exif(orientation=8))
    clean = sanitize(original)
    assert inspect(clean) == ImageInfo("PNG", 200, 300, len(clean), 1)
    assert b"eXIf" not in clean
    assert pixels(clean) == decoded(original).transpose(Image.Transpose.ROTATE_90).tobytes()


def test_rotated_webp_is_turned_upright() -> None:
    original = encode(noise_image((300, 200)), "WEBP", quality=95, exif=camera_exif(orientation=6))
    clean = sanitize(original)
    assert (inspect(clean).width, inspect(clean).height) == (200, 300)
    assert b"EXIF" not in clean


# --- make_thumbnail ---------------------------------------------------------------


def thumbnail_of(data: bytes, **options: int) -> Image.Image:
    src = io.BytesIO(data)
    info = inspect_image(src, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
    thumb = make_thumbnail(src, info, **options)
    assert src.tell() == 0
    assert thumb[:4] == b"RIFF" and thumb[8:12] == b"WEBP"
    img = Image.open(io.BytesIO(thumb))
    assert img.format == "WEBP"
    return img


@pytest.mark.parametrize(
    ("data_size", "options", "expected_size"),
    [
        pytest.param((1000, 500), {}, (320, 160), id="landscape"),
        pytest.param((500, 1000), {}, (160, 320), id="portrait"),
        pytest.param((1000, 500), {"max_side": 100}, (100, 50), id="custom-max-side"),
        pytest.param((100, 50), {}, (100, 50), id="small-is-not-enlarged"),
    ],
)
def test_thumbnail_long_side_fits(
    data_size: tuple[int, int], options: dict[str, int], expected_size: tuple[int, int]
) -> None:
    assert thumbnail_of(encode(noise_image(data_size), "JPEG"), **options).size == expected_size


def test_thumbnail_is_upright() -> None:
    stored = Image.new("RGB", (800, 400), "white")
    stored.paste((255, 0, 0), (0, 0, 400, 400))  # red on the left of the stored image
    original = encode(stored, "JPEG", exif=camera_exif(orientation=6))

    thumb = thumbnail_of(original).convert("RGB")

    assert thumb.size == (160, 320)
    red, _, _ = thumb.getpixel((80, 40))  # orientation 6: stored left becomes the top
    assert red > 200 and thumb.getpixel((80, 280))[1] > 200


@pytest.mark.parametrize(
    ("data", "mode"),
    [
        pytest.param(lambda: encode(noise_image(mode="RGBA"), "PNG"), "RGBA", id="rgba-png"),
        pytest.param(lambda: encode(palette_image(), "PNG", transparency=0), "RGBA", id="palette-png"),
        pytest.param(lambda: encode(noise_image(mode="L"), "PNG"), "RGB", id="grey-png"),
        pytest.param(cmyk_jpeg, "RGB", id="cmyk-jpeg"),
        pytest.param(lambda: encode(noise_image(mode="RGBA"), "WEBP"), "RGBA", id="rgba-webp"),
    ],
)
def test_thumbnail_mode(data: Callable[[], bytes], mode: str) -> None:
    assert thumbnail_of(data()).mode == mode


def test_sixteen_bit_thumbnail_is_scaled_not_clipped() -> None:
    thumb = thumbnail_of(encode(grey16_image(0x8000), "PNG"))
    assert 120 <= thumb.convert("L").getpixel((10, 10)) <= 136


def tall_image(mode: str) -> tuple[Image.Image, Image.Image]:
    """(image to save as PNG, the same in display mode), tall enough for several strips."""
    if mode == "I;16":
        grey = Image.linear_gradient("L").resize((700, 1300))
        wide = grey.convert("I").point(lambda value: value * 256 + 128)
        return wide.convert("I;16"), grey.convert("RGB")
    if mode == "P":
        img = noise_image((700, 1300)).convert("P")
        img.info["transparency"] = 0
        return img, img.convert("RGBA")
    img = noise_image((700, 1300), mode)
    return img, img.convert("RGBA")


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "I;16"])
def test_thumbnail_made_a_strip_at_a_time_is_pillows_thumbnail(mode: str) -> None:
    stored, display = tall_image(mode)
    data = encode(stored, "PNG", **({"transparency": 0} if mode == "P" else {}))
    src = io.BytesIO(data)
    thumb = make_thumbnail(src, inspect_image(src, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS))

    display.thumbnail((320, 320))
    assert thumb == encode(display, "WEBP", quality=80, method=1)


# --- Memory -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 24-megapixel photo-like JPEG of several MB (a full decode would need 72 MB)."""
    width, height = 6000, 4000
    coarse = Image.effect_noise((width // 4, height // 4), 40).resize((width, height))
    gradient = Image.linear_gradient("L").resize((width, height))
    fine = Image.effect_noise((width, height), 20)
    path = tmp_path_factory.mktemp("big") / "photo.jpg"
    Image.merge("RGB", (coarse, gradient, fine)).save(path, quality=95)
    return path


# Run in a fresh process, which reports how far its peak resident memory (VmHWM) rose
# while it did one thing. This sees Pillow's C buffers, which tracemalloc does not.
# Not ru_maxrss: across fork and exec it keeps the parent's peak, here pytest's.
PEAK_MEMORY_SCRIPT = f"""
import sys
from PIL import Image
from dashboard.core import images

def peak_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

path, step = sys.argv[1], sys.argv[2]
before = peak_kib()
with open(path, "rb") as src:
    if step == "decode":  # the positive control: what a full decode costs
        with Image.open(src) as img:
            img.load()
    else:
        info = images.inspect_image(src, max_bytes={MAX_BYTES}, max_pixels={MAX_PIXELS})
        if step == "keep":  # what dashboard/jobs/services.py does with an accepted upload
            with open(path + ".clean", "wb") as dest:
                images.write_sanitized(src, info, dest)
            images.make_thumbnail(src, info, max_side=512)
print(peak_kib() - before)
"""


def peak_memory(path: Path, step: str) -> int:
    """Bytes by which a fresh process's peak RSS rose while doing `step` to the file."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY_SCRIPT, str(path), step],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        check=True,
    )
    return int(done.stdout.split()[-1]) * 1024


def test_big_jpeg_is_checked_stripped_and_thumbnailed_without_a_full_decode(big_jpeg: Path, tmp_path: Path) -> None:
    assert big_jpeg.stat().st_size > 5 * MB
    full_decode = peak_memory(big_jpeg, "decode")
    kept = peak_memory(big_jpeg, "keep")

    assert full_decode > 90 * MB  # 24 MP at Pillow's 4 bytes per RGB pixel: it is seen
    assert kept < 30 * MB
    # Pillow wrote no metadata to drop, so the streamed copy is byte-identical in size.
    assert Path(f"{big_jpeg}.clean").stat().st_size == big_jpeg.stat().st_size
    with big_jpeg.open("rb") as src:
        info = inspect_image(src, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
        assert Image.open(io.BytesIO(make_thumbnail(src, info))).size == (320, 213)


def test_thumbnail_of_a_40_megapixel_png_costs_no_more_than_decoding_it(tmp_path: Path) -> None:
    # Converting the whole image, or resizing RGBA through Pillow's full-size
    # premultiplied copy, used to double it: 309 MB where the pixels take 152 MB.
    path = tmp_path / "big.png"
    path.write_bytes(corpus.large_flat_png(7300, 5450))
    full_decode = peak_memory(path, "decode")
    kept = peak_memory(path, "keep")

    assert full_decode > 140 * MB
    assert kept < full_decode + 40 * MB


# --- Hostile files: decode memory and CPU stay bounded ----------------------------


@pytest.fixture
def pillow_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """("open" | "load", format) each time Pillow parses a header or decodes pixels; the
    real methods still run. An empty list: the file was judged before Pillow saw it."""
    calls: list[tuple[str, str]] = []
    for plugin in (
        PngImagePlugin.PngImageFile,
        JpegImagePlugin.JpegImageFile,
        WebPImagePlugin.WebPImageFile,
    ):
        for name in ("_open", "load"):
            real, call = getattr(plugin, name), (name.strip("_"), plugin.format)

            def spy(self, *args, _real=real, _call=call, **kwargs):
                calls.append(_call)
                return _real(self, *args, **kwargs)

            monkeypatch.setattr(plugin, name, spy)
    return calls


def refusal(data: bytes) -> str:
    with pytest.raises(ImageRejected) as excinfo:
        inspect(data)
    return excinfo.value.message


def test_tiny_lossless_webp_of_40_megapixels_is_refused_before_decoding(
    pillow_calls: list[tuple[str, str]],
) -> None:
    # Under the 40 MP limit, but WebP decodes all at once at ~16 bytes per pixel: 600 MB.
    data = corpus.lossless_webp_bomb(6300, 6300)
    assert len(data) < 100
    assert refusal(data) == (
        "This WebP image is 6300 × 6300 pixels (39.7 megapixels); the limit for WebP is "
        "16 megapixels. Please save it as a JPEG or PNG, or make it smaller."
    )
    assert ("load", "WEBP") not in pillow_calls


def test_webp_pixel_limit_is_checked_from_the_header() -> None:
    assert "(16.1 megapixels)" in refusal(corpus.lossless_webp_bomb(4000, 4001))
    # A caller's lower limit still wins, with the usual sentence.
    with pytest.raises(ImageRejected) as excinfo:
        inspect(corpus.lossless_webp_bomb(3000, 3000), max_pixels=8_000_000)
    assert excinfo.value.message == ("This image is 3000 × 3000 pixels (9 megapixels); the limit is 8 megapixels.")


def test_small_lossless_webp_within_the_webp_limit_is_accepted() -> None:
    assert inspect(corpus.lossless_webp_bomb(1000, 800)) == ImageInfo("WEBP", 1000, 800, 34, 1)


def test_png_with_a_flood_of_empty_chunks_is_refused_before_pillow_parses_it(
    pillow_calls: list[tuple[str, str]],
) -> None:
    data = corpus.png_chunk_flood(1_660_000)  # 19 MB; used to take 10 s of CPU
    assert len(data) > 18 * MB
    assert refusal(data) == HIDDEN_DATA_MESSAGE
    assert pillow_calls == []


def test_png_split_into_thousands_of_small_data_chunks_is_accepted() -> None:
    chunks = png_chunks(encode(noise_image((400, 300)), "PNG"))
    image_data = b"".join(d for t, d in chunks if t == b"IDAT")
    pieces = [image_data[i : i + 128] for i in range(0, len(image_data), 128)]
    assert len(pieces) > 2000  # libpng writes 8 KB pieces; some encoders write smaller
    data = build_png([chunks[0], *[(b"IDAT", p) for p in pieces], (b"IEND", b"")])
    assert inspect(data) == ImageInfo("PNG", 400, 300, len(data), 1)


def test_png_whose_image_data_inflates_far_past_its_pixels_is_refused(
    pillow_calls: list[tuple[str, str]],
) -> None:
    data = corpus.png_with_endless_image_data(256 * MB)
    assert len(data) < MB
    assert refusal(data) == HIDDEN_DATA_MESSAGE
    assert ("load", "PNG") not in pillow_calls


def test_jpeg_with_megabytes_of_stray_bytes_is_refused_before_pillow_parses_it(
    pillow_calls: list[tuple[str, str]],
) -> None:
    assert refusal(corpus.jpeg_with_stray_bytes(19 * MB)) == HIDDEN_DATA_MESSAGE
    assert pillow_calls == []


@pytest.mark.parametrize("junk", [b"\0", b"\xff"], ids=["stray-zeros", "fill-bytes"])
def test_jpeg_with_a_few_stray_or_fill_bytes_is_still_accepted(junk: bytes) -> None:
    original = corpus.jpeg_with_stray_bytes(0)
    data = corpus.jpeg_with_stray_bytes(1000, junk)
    assert inspect(data).format == "JPEG"
    assert pixels(sanitize(data)) == pixels(original)


def test_jpeg_with_too_many_progressive_scans_is_refused_before_decoding(
    pillow_calls: list[tuple[str, str]],
) -> None:
    # Each repeated scan is a pass over every block: 1000 of them at 40 MP take 13 s.
    assert refusal(corpus.jpeg_with_repeated_scans(1000)) == (
        "This JPEG is saved in more than 64 progressive passes. Please export it again."
    )
    assert ("load", "JPEG") not in pillow_calls


def test_jpeg_with_64_progressive_scans_is_accepted() -> None:
    data = corpus.jpeg_with_repeated_scans(64)
    assert inspect(data).format == "JPEG"
    assert pixels(sanitize(data)) == pixels(data)


def test_webp_with_a_flood_of_unknown_chunks_is_refused(
    pillow_calls: list[tuple[str, str]],
) -> None:
    assert refusal(corpus.webp_chunk_flood(2_000_000)) == HIDDEN_DATA_MESSAGE
    assert pillow_calls == []


def test_at_most_two_images_are_decoded_at_once_in_one_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A worker runs 8 request threads: 8 WebPs at the 16 MP limit decoded together would
    # take 2 GB. The others wait their turn.
    inside, most = 0, 0
    lock = threading.Lock()
    real_load = ImageFile.ImageFile.load

    def slow_load(self: ImageFile.ImageFile):  # noqa: ANN202
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        try:
            time.sleep(0.1)  # long enough for the other threads to arrive
            return real_load(self)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(ImageFile.ImageFile, "load", slow_load)
    uploads = [
        encode(noise_image((200, 150)), "PNG"),
        encode(noise_image((200, 150)), "JPEG"),
        encode(noise_image((200, 150)), "WEBP"),
    ] * 2

    def check_and_keep(data: bytes) -> None:
        src = io.BytesIO(data)
        info = inspect_image(src, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
        make_thumbnail(src, info)

    with ThreadPoolExecutor(max_workers=len(uploads)) as pool:
        list(pool.map(check_and_keep, uploads))
    assert most == 2
