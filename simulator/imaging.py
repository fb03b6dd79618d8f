"""Pillow composites standing in for the vendor's generative models.

The results are not meant to be beautiful, only recognisably "the inputs, combined" so a
designer demoing the dashboard sees that the right photos went to the right job. The
module also draws the synthetic sample photos used by ``seed`` and the generation type
previews.
"""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageOps, ImageStat

# Formats the create endpoint accepts; anything else is a 422 like the vendor's.
ACCEPTED_FORMATS = frozenset({"PNG", "JPEG", "WEBP"})

STOCK_MAX_SIDE = 768
PREVIEW_MAX_SIDE = 512
TYPE_PREVIEW_SIDE = 256

# A subject photo whose every band varies less than this (on a small copy) is "empty".
FLAT_STDDEV = 4.0


class InvalidImage(ValueError):
    """The bytes are not a PNG, JPEG or WebP that Pillow can decode."""


def check_upload(path: Path) -> str:
    """Return the image format of an uploaded file, or raise InvalidImage.

    The image is fully decoded (not just its header sniffed) so truncated or corrupt
    uploads are rejected at the door instead of failing the job later.
    """
    try:
        with Image.open(path) as image:
            image_format = image.format or ""
            if image_format not in ACCEPTED_FORMATS:
                raise InvalidImage(f"unsupported format {image_format or 'unknown'}")
            image.load()
    except InvalidImage:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        # Pillow signals undecodable data through several exception types.
        raise InvalidImage(str(exc)) from exc
    return image_format


def load_rgb(path: Path, max_side: int = STOCK_MAX_SIDE) -> Image.Image:
    """Open an input photo upright, in RGB, no larger than ``max_side``."""
    with Image.open(path) as image:
        image.draft("RGB", (max_side, max_side))  # lets JPEG decode at a reduced scale
        upright = ImageOps.exif_transpose(image)
        return fit(upright.convert("RGB"), max_side)


def fit(image: Image.Image, max_side: int) -> Image.Image:
    """Downscale (never upscale) so the long side is at most ``max_side``."""
    if max(image.size) <= max_side:
        return image.copy()
    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def is_flat(image: Image.Image) -> bool:
    """True when the photo is essentially one colour, i.e. there is nobody in it."""
    small = image.convert("RGB").resize((64, 64), Image.Resampling.BILINEAR)
    return all(band_stddev < FLAT_STDDEV for band_stddev in ImageStat.Stat(small).stddev)


def _resize_to_width(image: Image.Image, width: int, max_height: int) -> Image.Image:
    width = max(8, width)
    height = max(8, round(image.height * width / image.width))
    if height > max_height:
        width = max(8, round(width * max_height / height))
        height = max_height
    return image.resize((width, height), Image.Resampling.LANCZOS)


def subject_mask(image: Image.Image) -> Image.Image:
    """Separate a product shot from a plain backdrop (white sweep, studio paper...).

    The backdrop colour is taken from the border; pixels far from it are the subject.
    When that finds (almost) nothing or (almost) everything, the photo has no plain
    backdrop and the whole frame counts as the subject.
    """
    rgb = image.convert("RGB")
    w, h = rgb.size
    border = [
        rgb.getpixel((x, y)) for x, y in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1), (w // 2, 0), (0, h // 2))
    ]
    background = tuple(sorted(channel)[len(channel) // 2] for channel in zip(*border, strict=True))
    difference = ImageChops.difference(rgb, Image.new("RGB", rgb.size, background)).convert("L")
    mask = difference.point(lambda value: 255 if value > 28 else 0)
    # Median drops speckles; the closing (grow, then shrink) fills small highlights inside
    # the subject that happen to match the backdrop colour.
    mask = mask.filter(ImageFilter.MedianFilter(5)).filter(ImageFilter.MaxFilter(9)).filter(ImageFilter.MinFilter(9))
    coverage = ImageStat.Stat(mask).mean[0] / 255
    if coverage < 0.04 or coverage > 0.97:
        return Image.new("L", rgb.size, 255)
    return mask


def _feathered_mask(image: Image.Image) -> Image.Image:
    """Subject mask cut to a rounded rectangle and blurred so pasted edges look soft."""
    w, h = image.size
    rounded = Image.new("L", image.size, 0)
    ImageDraw.Draw(rounded).rounded_rectangle((0, 0, w - 1, h - 1), radius=max(4, min(w, h) // 7), fill=255)
    mask = ImageChops.multiply(rounded, subject_mask(image))
    return mask.filter(ImageFilter.GaussianBlur(max(1.5, min(w, h) / 70)))


def _drop_shadow(base: Image.Image, mask: Image.Image, position: tuple[int, int], strength: float) -> None:
    """Darken ``base`` under a blurred, offset copy of ``mask`` (in place)."""
    offset = max(3, mask.width // 40)
    canvas = Image.new("L", base.size, 0)
    canvas.paste(mask, (position[0] + offset, position[1] + offset * 2))
    shadow = canvas.filter(ImageFilter.GaussianBlur(max(4, mask.width // 25)))
    shadow = shadow.point(lambda value: round(value * strength))
    base.paste(Image.new("RGB", base.size, (20, 20, 24)), (0, 0), shadow)


def compose_tryon(person: Image.Image, garment: Image.Image) -> Image.Image:
    """Garment onto the model: ~45% of the body's width, centred on the torso."""
    result = fit(person.convert("RGB"), STOCK_MAX_SIDE)
    w, h = result.size
    garment = _resize_to_width(garment.convert("RGB"), round(w * 0.45), round(h * 0.5))
    # Centre on the torso, a bit above a third of the height.
    cx, cy = w // 2, round(h * 0.36)
    left, top = cx - garment.width // 2, max(0, cy - garment.height // 2)
    region = (left, top, left + garment.width, top + garment.height)
    # Let the person's lighting show through a little so the garment sits in the scene.
    # The mask comes from the untouched garment photo: shading first would make its
    # plain backdrop uneven and leak it into the cut-out.
    mask = _feathered_mask(garment)
    shading = ImageOps.autocontrast(result.crop(region).convert("L")).point(lambda v: 150 + v * 105 // 255)
    garment = Image.blend(garment, ImageChops.multiply(garment, Image.merge("RGB", [shading] * 3)), 0.35)
    _drop_shadow(result, mask, (left, top), 0.35)
    result.paste(garment, (left, top), mask)
    return result


def compose_furniture(room: Image.Image, furniture: Image.Image) -> Image.Image:
    """Furniture standing on the floor in the lower middle of the room."""
    result = fit(room.convert("RGB"), STOCK_MAX_SIDE)
    w, h = result.size
    piece = _resize_to_width(furniture.convert("RGB"), round(w * 0.42), round(h * 0.45))
    left = (w - piece.width) // 2
    top = round(h * 0.9) - piece.height
    # A soft contact shadow on the floor keeps the piece from floating.
    floor_shadow = Image.new("L", result.size, 0)
    shadow_h = max(6, piece.height // 8)
    ImageDraw.Draw(floor_shadow).ellipse(
        (
            left + piece.width // 20,
            top + piece.height - shadow_h // 2,
            left + piece.width * 19 // 20,
            top + piece.height + shadow_h // 2,
        ),
        fill=130,
    )
    floor_shadow = floor_shadow.filter(ImageFilter.GaussianBlur(max(3, shadow_h // 2)))
    result.paste(Image.new("RGB", result.size, (25, 22, 20)), (0, 0), floor_shadow)
    result.paste(piece, (left, top), _feathered_mask(piece))
    return result


def compose_fabric(product: Image.Image, fabric: Image.Image) -> Image.Image:
    """The product re-covered with the fabric: tiled swatch multiplied by the product's shading."""
    result = fit(product.convert("RGB"), STOCK_MAX_SIDE)
    w, h = result.size
    mask = subject_mask(result)
    if ImageStat.Stat(mask).mean[0] > 250:
        # No plain backdrop: cover a centred ellipse rather than the whole frame.
        mask = Image.new("L", result.size, 0)
        ImageDraw.Draw(mask).ellipse((w * 0.2, h * 0.2, w * 0.8, h * 0.8), fill=255)
    tile = _resize_to_width(fabric.convert("RGB"), max(16, w // 4), h)
    tiled = Image.new("RGB", result.size)
    for y in range(0, h, tile.height):
        for x in range(0, w, tile.width):
            tiled.paste(tile, (x, y))
    shading = ImageOps.autocontrast(result.convert("L")).point(lambda v: 90 + v * 165 // 255)
    textured = ImageChops.multiply(tiled, Image.merge("RGB", [shading] * 3))
    result.paste(textured, (0, 0), mask.filter(ImageFilter.GaussianBlur(1.5)))
    return result


def stylise(image: Image.Image) -> Image.Image:
    """The default tool: posterised, warm duotone tint and a gentle vignette."""
    base = fit(image.convert("RGB"), STOCK_MAX_SIDE)
    poster = ImageOps.posterize(base, 3)
    tint = ImageOps.colorize(ImageOps.grayscale(base), black="#1f2440", mid="#b8607a", white="#ffe8c2")
    styled = Image.blend(poster, tint, 0.45)
    vignette = Image.radial_gradient("L").resize(base.size).point(lambda v: min(255, max(0, (v - 110) * 2)))
    styled.paste(Image.new("RGB", base.size, (12, 10, 20)), (0, 0), vignette.point(lambda v: v * 3 // 5))
    return styled


def compose(group_tool: str, inputs: dict[str, Image.Image]) -> Image.Image:
    """Dispatch on the tool group; ``inputs`` maps slot names to opened photos."""
    if group_tool == "fashion":
        return compose_tryon(inputs["person"], inputs["clothes"])
    if group_tool == "interior":
        return compose_furniture(inputs["room"], inputs["furniture"])
    if group_tool == "textile":
        return compose_fabric(inputs["product"], inputs["fabric"])
    return stylise(inputs["image"])


def _save_atomic(image: Image.Image, target: Path, image_format: str, **options: object) -> None:
    # Write then rename, so a concurrent GET never serves a half-written file.
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    image.save(temporary, format=image_format, **options)
    os.replace(temporary, target)


def save_result(image: Image.Image, stock_path: Path, preview_path: Path) -> None:
    """Stock PNG (full composite) and WebP preview (long side <= 512, quality 80)."""
    # compress_level 3: files a bit larger than the default, but several times faster,
    # which keeps seeding hundreds of items quick.
    _save_atomic(image, stock_path, "PNG", compress_level=3)
    _save_atomic(fit(image, PREVIEW_MAX_SIDE), preview_path, "WEBP", quality=80, method=3)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _palette(seed_text: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    digest = hashlib.sha1(seed_text.encode()).digest()
    first = tuple(60 + value % 150 for value in digest[:3])
    second = tuple(110 + value % 140 for value in digest[3:6])
    return first, second  # type: ignore[return-value]


def _gradient(size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    ramp = Image.linear_gradient("L").resize(size)
    return ImageOps.colorize(ramp, black=top, white=bottom)


def render_type_preview(type_id: str, title: str, tool_title: str, target: Path) -> None:
    """A small labelled swatch for a generation type, written as WebP."""
    side = TYPE_PREVIEW_SIDE
    top, bottom = _palette(type_id)
    image = _gradient((side, side), top, bottom)
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((14, side - 92, side - 14, side - 14), radius=12, fill=(255, 255, 255))
    draw.text((26, side - 84), title, fill=(30, 30, 36), font=_font(22))
    draw.text((26, side - 48), tool_title, fill=(95, 95, 110), font=_font(16))
    draw.ellipse((side - 86, 20, side - 20, 86), outline=(255, 255, 255), width=5)
    _save_atomic(image, target, "WEBP", quality=85)


# --- Synthetic sample photos (seed data, demos) --------------------------------------

Colour = tuple[int, int, int]


def _colour(rng: random.Random, low: int = 40, high: int = 230) -> Colour:
    return (rng.randint(low, high), rng.randint(low, high), rng.randint(low, high))


def sample_person(rng: random.Random, size: tuple[int, int] = (384, 512)) -> Image.Image:
    """A stylised model standing in front of a studio gradient."""
    w, h = size
    image = _gradient(size, _colour(rng, 170, 240), _colour(rng, 90, 170))
    draw = ImageDraw.Draw(image)
    skin = rng.choice([(241, 200, 170), (198, 145, 110), (140, 95, 65), (225, 180, 140)])
    outfit = _colour(rng, 30, 120)
    draw.ellipse((w * 0.40, h * 0.06, w * 0.60, h * 0.22), fill=skin)  # head
    draw.rectangle((w * 0.46, h * 0.20, w * 0.54, h * 0.26), fill=skin)  # neck
    draw.rounded_rectangle((w * 0.30, h * 0.24, w * 0.70, h * 0.58), radius=w // 12, fill=outfit)  # torso
    draw.rounded_rectangle((w * 0.22, h * 0.26, w * 0.30, h * 0.55), radius=w // 30, fill=skin)  # arms
    draw.rounded_rectangle((w * 0.70, h * 0.26, w * 0.78, h * 0.55), radius=w // 30, fill=skin)
    draw.rectangle((w * 0.34, h * 0.58, w * 0.48, h * 0.95), fill=_colour(rng, 20, 90))  # legs
    draw.rectangle((w * 0.52, h * 0.58, w * 0.66, h * 0.95), fill=_colour(rng, 20, 90))
    return image


def sample_garment(rng: random.Random, size: tuple[int, int] = (384, 384)) -> Image.Image:
    """A flat-lay T-shirt on a white backdrop, striped or plain."""
    w, h = size
    image = Image.new("RGB", size, (250, 250, 250))
    shirt = Image.new("RGB", size, _colour(rng))
    if rng.random() < 0.6:
        stripe = _colour(rng)
        stripe_draw = ImageDraw.Draw(shirt)
        for y in range(0, h, h // 10):
            stripe_draw.rectangle((0, y, w, y + h // 24), fill=stripe)
    outline = [
        (w * 0.30, h * 0.10),
        (w * 0.42, h * 0.06),
        (w * 0.58, h * 0.06),
        (w * 0.70, h * 0.10),
        (w * 0.95, h * 0.30),
        (w * 0.82, h * 0.42),
        (w * 0.74, h * 0.34),
        (w * 0.74, h * 0.92),
        (w * 0.26, h * 0.92),
        (w * 0.26, h * 0.34),
        (w * 0.18, h * 0.42),
        (w * 0.05, h * 0.30),
    ]
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).polygon(outline, fill=255)
    image.paste(shirt, (0, 0), mask)
    return image


def sample_room(rng: random.Random, size: tuple[int, int] = (512, 384)) -> Image.Image:
    """An empty room: wall, floor, window."""
    w, h = size
    image = _gradient(size, _colour(rng, 190, 245), _colour(rng, 150, 210))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, h * 0.68, w, h), fill=_colour(rng, 90, 160))
    draw.rectangle((w * 0.62, h * 0.14, w * 0.86, h * 0.50), fill=(205, 228, 245), outline=(255, 255, 255), width=6)
    draw.line((w * 0.74, h * 0.14, w * 0.74, h * 0.50), fill=(255, 255, 255), width=4)
    return image


def sample_furniture(rng: random.Random, size: tuple[int, int] = (384, 288)) -> Image.Image:
    """A sofa on a white backdrop."""
    w, h = size
    image = Image.new("RGB", size, (248, 248, 248))
    draw = ImageDraw.Draw(image)
    body = _colour(rng, 40, 200)
    darker = tuple(max(0, c - 40) for c in body)
    draw.rounded_rectangle((w * 0.10, h * 0.20, w * 0.90, h * 0.60), radius=w // 20, fill=darker)
    draw.rounded_rectangle((w * 0.05, h * 0.45, w * 0.95, h * 0.80), radius=w // 25, fill=body)
    draw.rectangle((w * 0.12, h * 0.80, w * 0.16, h * 0.92), fill=(60, 45, 35))
    draw.rectangle((w * 0.84, h * 0.80, w * 0.88, h * 0.92), fill=(60, 45, 35))
    return image


def sample_fabric(rng: random.Random, size: tuple[int, int] = (256, 256)) -> Image.Image:
    """A fabric swatch: checks, stripes or dots."""
    w, h = size
    ground, ink = _colour(rng, 120, 240), _colour(rng, 20, 140)
    image = Image.new("RGB", size, ground)
    draw = ImageDraw.Draw(image)
    pattern, step = rng.choice(["checks", "stripes", "dots"]), rng.choice([16, 24, 32])
    for y in range(0, h, step):
        for x in range(0, w, step):
            if pattern == "checks" and (x // step + y // step) % 2:
                draw.rectangle((x, y, x + step - 1, y + step - 1), fill=ink)
            elif pattern == "dots":
                draw.ellipse((x + step // 4, y + step // 4, x + step * 3 // 4, y + step * 3 // 4), fill=ink)
        if pattern == "stripes":
            draw.rectangle((0, y, w, y + step // 3), fill=ink)
    return image


def sample_product(rng: random.Random, size: tuple[int, int] = (384, 384)) -> Image.Image:
    """A cushion-like product on a white backdrop with simple shading."""
    w, h = size
    image = Image.new("RGB", size, (250, 250, 250))
    shade = Image.radial_gradient("L").resize((int(w * 0.7), int(h * 0.6))).point(lambda v: 255 - v // 2)
    # Kept clearly darker than the backdrop, even at the highlight, so it cuts out cleanly.
    body = ImageOps.colorize(shade, black=(80, 80, 85), white=(200, 200, 205))
    mask = Image.new("L", body.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, body.width - 1, body.height - 1), radius=w // 8, fill=255)
    image.paste(body, (int(w * 0.15), int(h * 0.2)), mask)
    return image


def sample_photo(rng: random.Random, size: tuple[int, int] = (512, 384)) -> Image.Image:
    """A landscape: sky, sun and hills."""
    w, h = size
    image = _gradient(size, _colour(rng, 60, 140), _colour(rng, 180, 250))
    draw = ImageDraw.Draw(image)
    sun = rng.uniform(0.2, 0.8)
    draw.ellipse((w * sun - 30, h * 0.15, w * sun + 30, h * 0.15 + 60), fill=(255, 226, 150))
    for index in range(3):
        top = h * (0.55 + 0.12 * index)
        draw.polygon(
            [(0, h), (0, top), (w * 0.3, top - 40), (w * 0.7, top + 10), (w, top - 30), (w, h)],
            fill=_colour(rng, 20, 120),
        )
    return image
