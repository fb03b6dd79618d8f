"""Images served by the dashboard: stored inputs, and results proxied from the upstream.

Result images may need the API key upstream, so the browser never fetches them there:
this view does, keeps only PNG, JPEG and WebP (decided from the bytes, never from what
the upstream claims), and lets the browser cache them for good (results never change).
"""

from __future__ import annotations

import hashlib
from functools import cache
from io import BytesIO

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import content_disposition_header, quote_etag
from django.utils.text import slugify
from django.views.decorators.http import require_GET
from PIL import Image, ImageDraw

from dashboard import genapi
from dashboard.core import display, images, storage
from dashboard.core import views as core_views
from dashboard.core.http import Gone
from dashboard.index import services as index
from dashboard.models import InputImage

ONE_YEAR = 365 * 24 * 3600


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


def placeholder_for(error: genapi.GenApiError) -> HttpResponse:
    """The tile for an image that cannot be had: 404 when it does not exist, 502 when the
    upstream sent something that is not an image, 503 when it could not be read."""
    if isinstance(error, genapi.NotFound):
        return placeholder_response(404)
    return placeholder_response(502 if isinstance(error, genapi.NotAnImage) else 503)


def result_etag(item_id: str, kind: str) -> str:
    """Results never change: the item and the kind name the bytes, on this upstream."""
    return quote_etag(hashlib.sha256(f"{settings.GENAPI_BASE_URL}|{item_id}|{kind}".encode()).hexdigest()[:32])


def labelled(response: HttpResponse, etag: str) -> HttpResponse:
    """A result's headers, on its 200 and on a 304 alike (RFC 9110, 15.4.5)."""
    response["ETag"] = etag
    patch_cache_control(response, private=True, max_age=ONE_YEAR, immutable=True)
    return response


def image_response(content: bytes, **cache_control) -> HttpResponse:
    content_type = images.sniff_content_type(content[:64])
    if content_type is None:
        # An SVG, an HTML error page or anything else is never passed on as an image.
        return placeholder_response(502)
    response = HttpResponse(content, content_type=content_type)
    if cache_control:
        patch_cache_control(response, private=True, **cache_control)
    return response


@require_GET
def result_image(request, item_id: str, kind: str) -> HttpResponse:
    etag = result_etag(item_id, kind)
    # A revalidation is answered 304 without an upstream call. (Not @etag: that would
    # label the placeholder too, and a placeholder is never to be revalidated.)
    not_modified = get_conditional_response(request, etag=etag)
    if not_modified is not None:
        return labelled(not_modified, etag)
    try:
        # The image's place comes from the index (a result not indexed yet is read once).
        row = index.find(item_id)
        if row is None or row.status != genapi.Status.COMPLETE:
            return placeholder_response(404)
        item = index.as_item(row)
        content = genapi.result_image(item, "stock" if kind == "stock" else "preview")
    except genapi.GenApiError as exc:
        return placeholder_for(exc)
    response = image_response(content)
    if response.status_code != 200:
        return response
    labelled(response, etag)
    if request.GET.get("download"):
        extension = response["Content-Type"].removeprefix("image/").replace("jpeg", "jpg")
        tool = slugify(item.tool or "") or "nextry"
        name = f"{tool}-{display.file_name_time(item.created_at) or 'result'}-{item.id}.{extension}"
        response["Content-Disposition"] = content_disposition_header(True, name)
    return response


@require_GET
def input_image(request, pk: int, variant: str) -> HttpResponseBase:
    """A stored input (or its thumbnail), for logged-in users only, never a public path.

    Inputs of a job are the team's; an upload no job has used is its owner's alone.
    Anything else is the same 404 as an id that never existed."""
    image = get_object_or_404(InputImage.objects.visible_to(request.user), pk=pk)
    name = image.thumbnail.name if variant == "thumbnail" else image.file.name
    try:
        handle = default_storage.open(name, "rb")
        # Read now (S3 fetches at the first read): a store that fails is this 503, not a
        # response cut short after its 200.
        handle.open()
    except FileNotFoundError:
        raise Gone("This input image is no longer stored.") from None
    except storage.StorageUnavailable:
        # Shown in place of the image: the tile, until the store answers again (no-store).
        # A download gets the page saying why.
        return core_views.storage_away() if variant == "download" else placeholder_response(503)
    response = FileResponse(
        handle,
        content_type="image/webp" if variant == "thumbnail" else image.content_type,
        as_attachment=variant == "download",
        filename=image.original_name if variant == "download" else "",
    )
    response["Cache-Control"] = "private, max-age=86400"
    return response


@require_GET
def style_preview(request, tool: str, style_id: str) -> HttpResponse:
    """A style's preview image, looked up in the cached catalogue only."""
    try:
        style = genapi.style(tool, style_id)
        if style is None or not style.preview_path:
            return placeholder_response(404)
        content = genapi.style_preview(style)
    except genapi.GenApiError as exc:
        return placeholder_for(exc)
    return image_response(content, max_age=3600)
