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


def grainy_person_photo(size: tuple[int, int] = (1500, 2000), grain: float = 0.5) -> bytes:
    """A model photo as a camera gives it: grain that JPEG compresses poorly, about 2 MB
    at the default size (the weight the upload and latency figures are stated for)."""
    base = Image.open(io.BytesIO(person_photo(size=size)))
    noise = Image.merge("RGB", [Image.effect_noise(size, 64) for _ in range(3)])
    return encode(Image.blend(base, noise, grain), "JPEG", quality=92)


def garment_photo(size: tuple[int, int] = (400, 460), fmt: str = "PNG") -> bytes:
    width, height = size
    image = Image.new("RGB", size, (245, 245, 245))
    ImageDraw.Draw(image).polygon(
        [
            (width * 0.25, height * 0.1),
            (width * 0.75, height * 0.1),
            (width * 0.95, height * 0.3),
            (width * 0.75, height * 0.35),
            (width * 0.75, height * 0.95),
            (width * 0.25, height * 0.95),
            (width * 0.25, height * 0.35),
            (width * 0.05, height * 0.3),
        ],
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
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _png_chunk(b"IEND", b"")
    )


def noisy_png(size=(400, 400)) -> bytes:
    return encode(Image.effect_noise(size, 64).convert("RGB"), "PNG")


# (test id, file name, contents, a fragment of the message the designer must see)
REFUSED_UPLOADS = [
    ("text-named-png", "notes.png", lambda: b"These are my notes, not a picture.\n" * 20, "not an image we can read"),
    ("truncated-png", "cut.png", lambda: noisy_png()[: len(noisy_png()) // 2], "damaged or incomplete"),
    (
        "html-with-png-header",
        "page.png",
        lambda: b"\x89PNG\r\n\x1a\n<html><body><script>alert(1)</script></body></html>",
        "damaged or incomplete",
    ),
    (
        "svg",
        "drawing.svg",
        lambda: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>',
        "SVG drawings are not supported",
    ),
    ("gif", "anim.gif", lambda: encode(Image.new("P", (64, 64)), "GIF"), "GIF images are not supported"),
    ("empty", "empty.png", lambda: b"", "empty"),
    ("one-pixel", "dot.png", lambda: encode(Image.new("RGB", (1, 1)), "PNG"), "only 1 × 1 pixels"),
    ("thirty-thousand-square", "huge.png", huge_png, "30000 × 30000 pixels"),
    ("twenty-five-mb", "big.png", lambda: garment_photo() + b"\0" * (25 * 1024 * 1024), "the limit is 20 MB"),
]


# --- Hostile files: small uploads that would cost a lot to decode or parse ----------------

MB = 1024 * 1024


class _BitWriter:
    """Bits packed least-significant first, as a VP8L (lossless WebP) bitstream wants them."""

    def __init__(self) -> None:
        self.value = 0
        self.length = 0

    def put(self, value: int, bits: int) -> None:
        self.value |= value << self.length
        self.length += bits

    def to_bytes(self) -> bytes:
        return self.value.to_bytes((self.length + 7) // 8, "little")


def lossless_webp_bomb(width: int = 6300, height: int = 6300) -> bytes:
    """A valid lossless WebP of a few dozen bytes that decodes to width × height pixels.

    Each of the five prefix codes holds a single symbol, so every pixel costs zero bits:
    the file stays tiny whatever its size, yet decoding it fills width × height × 4 bytes.
    """
    bits = _BitWriter()
    bits.put(0x2F, 8)  # VP8L signature
    bits.put(width - 1, 14)
    bits.put(height - 1, 14)
    bits.put(0, 1)  # alpha unused
    bits.put(0, 3)  # version 0
    bits.put(0, 1)  # no transform
    bits.put(0, 1)  # no colour cache
    bits.put(0, 1)  # no meta prefix codes
    for symbol in (0x80, 0x40, 0xC0, 0xFF, 0):  # green, red, blue, alpha, distance
        bits.put(1, 1)  # simple code
        bits.put(0, 1)  # one symbol
        bits.put(1, 1)  # the symbol takes 8 bits
        bits.put(symbol, 8)
    payload = bits.to_bytes()
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def png_chunk_flood(count: int = 1_660_000) -> bytes:
    """A small valid PNG carrying `count` empty private chunks (12 bytes each) before its
    image data: 1.66 million of them make a 19 MB file that is slow to walk chunk by chunk."""
    chunks = png_chunks(garment_photo((64, 64)))
    flood = _png_chunk(b"prVt", b"") * count
    first_data = next(i for i, (kind, _) in enumerate(chunks) if kind == b"IDAT")
    before = b"".join(_png_chunk(kind, data) for kind, data in chunks[:first_data])
    after = b"".join(_png_chunk(kind, data) for kind, data in chunks[first_data:])
    return b"\x89PNG\r\n\x1a\n" + before + flood + after


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk of a PNG, in file order."""
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def jpeg_with_stray_bytes(stray: int = 19 * MB, junk: bytes = b"\0") -> bytes:
    """A small valid JPEG with `stray` bytes of junk (or of 0xFF fill bytes) before one of
    its markers: decoders skip such bytes, one at a time."""
    data = person_photo((64, 64))
    (app0_length,) = struct.unpack(">H", data[4:6])
    cut = 4 + app0_length  # after SOI and the JFIF segment, before the next marker
    return data[:cut] + junk * stray + data[cut:]


def webp_chunk_flood(count: int = 2_000_000) -> bytes:
    """A small valid extended WebP followed by `count` empty unknown chunks (8 bytes each)."""
    data = encode(Image.new("RGB", (64, 64), (200, 40, 60)), "WEBP", lossless=True, exif=b"Exif\0\0")
    body = data[12:] + (b"prVt" + struct.pack("<I", 0)) * count
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def png_with_endless_image_data(extra: int = 256 * MB) -> bytes:
    """A small PNG whose image data stream carries on, past the image's pixels, with
    `extra` bytes of zeros: a few hundred KB of file that inflate to `extra` bytes."""
    chunks = png_chunks(garment_photo((64, 64)))
    raw = zlib.decompress(b"".join(data for kind, data in chunks if kind == b"IDAT"))
    deflate = zlib.compressobj(9)
    stream = [deflate.compress(raw)]
    zeros = bytes(MB)
    stream += [deflate.compress(zeros) for _ in range(extra // MB)]
    stream.append(deflate.flush())
    others = [(kind, data) for kind, data in chunks if kind not in (b"IDAT", b"IEND")]
    body = b"".join(_png_chunk(kind, data) for kind, data in others)
    return b"\x89PNG\r\n\x1a\n" + body + _png_chunk(b"IDAT", b"".join(stream)) + _png_chunk(b"IEND", b"")


def jpeg_with_repeated_scans(scans: int, size: tuple[int, int] = (1024, 768)) -> bytes:
    """A progressive JPEG whose last scan is repeated until the file has `scans` scans.
    Decoders accept the repeats (with a warning), and each one costs a pass over every
    block of the image: a thousand of them take seconds even at 1/8 scale."""
    data = encode(Image.new("RGB", size, (40, 90, 160)), "JPEG", progressive=True, quality=90)
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xDA]
    end = data.rindex(b"\xff\xd9")
    last = data[starts[-1] : end]
    return data[:end] + last * (scans - len(starts)) + data[end:]


def large_flat_png(width: int, height: int, color_type: int = 6) -> bytes:
    """A large one-colour PNG (8 bits per sample; colour type 6 = RGBA, 2 = RGB, 0 = grey),
    written a row at a time so that making it never holds the pixels in memory."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    row = b"\0" + bytes((90, 140, 200, 255)[:channels]) * width
    deflate = zlib.compressobj(6)
    stream = [deflate.compress(row * 64) for _ in range(height // 64)]
    stream += [deflate.compress(row * (height % 64)), deflate.flush()]
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(stream))
        + _png_chunk(b"IEND", b"")
    )
