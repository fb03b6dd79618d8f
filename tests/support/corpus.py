"""Images and not-images for upload tests: what designers may send, good and bad."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw


def person_photo(size: tuple[int, int] = (480, 640), fmt: str = "JPEG") -> bytes:
    """A plausible model photo: a gradient backdrop and a figure (not one flat colour)."""
    width, height = size
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse((width * 0.4, height * 0.1, width * 0.6, height * 0.28), fill=(224, 180, 150))
    draw.rectangle((width * 0.33, height * 0.28, width * 0.67, height * 0.78), fill=(60, 70, 90))
    return encode(image, fmt)


def garment_photo(size: tuple[int, int] = (400, 460), fmt: str = "PNG") -> bytes:
    width, height = size
    image = Image.new("RGB", size, (245, 245, 245))
    ImageDraw.Draw(image).polygon(
        [(width * 0.25, height * 0.1), (width * 0.75, height * 0.1), (width * 0.95, height * 0.3),
         (width * 0.75, height * 0.35), (width * 0.75, height * 0.95), (width * 0.25, height * 0.95),
         (width * 0.25, height * 0.35), (width * 0.05, height * 0.3)],
        fill=(200, 40, 60),
    )
    return encode(image, fmt)


def flat_photo(size: tuple[int, int] = (400, 500), colour=(120, 160, 200)) -> bytes:
    return encode(Image.new("RGB", size, colour), "PNG")


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_png(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny file announcing an enormous image: refused from its header alone."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b"")


def noisy_png(size=(400, 400)) -> bytes:
    return encode(Image.effect_noise(size, 64).convert("RGB"), "PNG")


# (test id, file name, contents, a fragment of the message the designer must see)
REFUSED_UPLOADS = [
    ("text-named-png", "notes.png", lambda: b"These are my notes, not a picture.\n" * 20, "not an image we can read"),
    ("truncated-png", "cut.png", lambda: noisy_png()[: len(noisy_png()) // 2], "damaged or incomplete"),
    ("html-with-png-header", "page.png", lambda: b"\x89PNG\r\n\x1a\n<html><body><script>alert(1)</script></body></html>", "damaged or incomplete"),
    ("svg", "drawing.svg", lambda: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>', "SVG drawings are not supported"),
    ("gif", "anim.gif", lambda: encode(Image.new("P", (64, 64)), "GIF"), "GIF images are not supported"),
    ("empty", "empty.png", lambda: b"", "empty"),
    ("one-pixel", "dot.png", lambda: encode(Image.new("RGB", (1, 1)), "PNG"), "only 1 × 1 pixels"),
    ("thirty-thousand-square", "huge.png", huge_png, "30000 × 30000 pixels"),
    ("twenty-five-mb", "big.png", lambda: garment_photo() + b"\0" * (25 * 1024 * 1024), "the limit is 20 MB"),
]
