"""Images served by the dashboard: stored inputs, and results proxied from the upstream.

Result images may need the API key upstream, so the browser never fetches them there:
this view does, keeps only PNG, JPEG and WebP (decided from the bytes, never from what
the upstream claims), and lets the browser cache them for good (results never change).
"""

from __future__ import annotations

import hashlib
from functools import cache
from io import BytesIO

from django.core.cache import cache as django_cache
from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse, HttpResponseNotModified
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET
from PIL import Image, ImageDraw

from dashboard import genapi, images
from dashboard.models import InputImage
from dashboard.views.common import Gone

FOREVER = "private, max-age=31536000, immutable"
# Previews are small and asked for by every grid: keep them; stock PNGs stream through.
PREVIEW_CACHE_BYTES = 2 * 1024 * 1024


@cache
def placeholder_png() -> bytes:
    """A calm, neutral tile shown wherever a result image is missing or unreadable."""
    tile = Image.new("RGB", (320, 400), (226, 225, 221))
    draw = ImageDraw.Draw(tile)
    draw.rounded_rectangle((120, 160, 200, 224), radius=10, outline=(170, 168, 162), width=4)
    draw.ellipse((138, 174, 154, 190), fill=(170, 168, 162))
    draw.polygon([(128, 218), (152, 194), (168, 208), (180, 198), (194, 218)], fill=(170, 168, 162))
    out = BytesIO()
    tile.save(out, "PNG", optimize=True)
    return out.getvalue()


def placeholder_response(status: int) -> HttpResponse:
    response = HttpResponse(placeholder_png(), content_type="image/png", status=status)
    response["Cache-Control"] = "no-store"
    return response


def _etag(item_id: str, kind: str) -> str:
    return '"' + hashlib.sha256(f"{settings.GENAPI_BASE_URL}|{item_id}|{kind}".encode()).hexdigest()[:32] + '"'


@require_GET
def result_image(request, item_id: str, kind: str) -> HttpResponse:
    etag = _etag(item_id, kind)
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
        response["ETag"] = etag
        response["Cache-Control"] = FOREVER
        return response
    try:
        item = genapi.cached_item(item_id)
    except genapi.NotFound:
        return placeholder_response(404)
    except genapi.GenApiError:
        return placeholder_response(503)
    if not item.is_complete:
        return placeholder_response(404)
    cache_key = f"result-image:{etag}"
    content = django_cache.get(cache_key) if kind == "preview" else None
    if content is None:
        try:
            upstream = genapi.client().fetch_image(item.preview_path if kind == "preview" else item.stock_path)
        except genapi.NotFound:
            return placeholder_response(404)
        except genapi.GenApiError:
            return placeholder_response(503)
        content = upstream.content
        if kind == "preview" and len(content) <= PREVIEW_CACHE_BYTES:
            django_cache.set(cache_key, content, settings.GENAPI_ITEM_CACHE_SECONDS)
    content_type = images.sniff_content_type(content[:64])
    if content_type is None:
        # An SVG, an HTML error page or anything else is never passed on as an image.
        return placeholder_response(502)
    response = HttpResponse(content, content_type=content_type)
    response["ETag"] = etag
    response["Cache-Control"] = FOREVER
    if request.GET.get("download"):
        extension = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}[content_type]
        stamp = item.created_at.strftime("%Y-%m-%d-%H%M") if item.created_at else "result"
        name = f"{item.generation_type or 'nextry'}-{stamp}-{item.id}.{extension}"
        response["Content-Disposition"] = content_disposition_header(True, name)
    return response


@require_GET
def input_image(request, pk: int, variant: str) -> FileResponse:
    """A stored input (or its thumbnail), for logged-in users only, never a public path."""
    image = get_object_or_404(InputImage, pk=pk)
    name = image.thumbnail.name if variant == "thumbnail" else image.file.name
    try:
        handle = default_storage.open(name, "rb")
    except FileNotFoundError:
        raise Gone("This input image is no longer stored.") from None
    response = FileResponse(
        handle,
        content_type="image/webp" if variant == "thumbnail" else image.content_type,
        as_attachment=variant == "download",
        filename=image.original_name if variant == "download" else None,
    )
    response["Cache-Control"] = "private, max-age=86400"
    return response


@require_GET
def type_preview(request, tool: str, type_id: str) -> HttpResponse:
    """A generation type's preview image, looked up in the cached catalogue only."""
    try:
        generation_type = next((gt for gt in genapi.cached_generation_types(tool) if gt.id == type_id), None)
    except genapi.NotFound:
        return placeholder_response(404)
    except genapi.GenApiError:
        return placeholder_response(503)
    if generation_type is None or not generation_type.preview_path:
        return placeholder_response(404)
    cache_key = f"type-preview:{_etag(tool, type_id)}"
    content = django_cache.get(cache_key)
    if content is None:
        try:
            content = genapi.client().fetch_image(generation_type.preview_path).content
        except genapi.GenApiError:
            return placeholder_response(503)
        django_cache.set(cache_key, content, genapi.CATALOGUE_CACHE_SECONDS)
    content_type = images.sniff_content_type(content[:64])
    if content_type is None:
        return placeholder_response(502)
    response = HttpResponse(content, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response
