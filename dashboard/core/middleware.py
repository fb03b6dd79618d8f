"""Refuses request bodies over the total size limit with a clear page, not a reset;
compresses the dashboard's own text responses."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.middleware.gzip import GZipMiddleware
from django.template.loader import render_to_string
from django.urls import reverse

from dashboard.core.images import describe_size

DRAIN_CHUNK = 64 * 1024


class RequestSizeLimitMiddleware:
    """Django limits form fields but not file uploads as a whole: this does.

    The body is read and discarded before answering (up to a bound), because a server
    that answers while the browser is still sending makes the browser show a
    connection reset instead of our message.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.REQUEST_MAX_BYTES
        if length <= limit:
            return self.get_response(request)
        if length <= limit * 4:
            stream = request.META["wsgi.input"]
            remaining = length
            while remaining > 0:
                chunk = stream.read(min(DRAIN_CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
        if request.headers.get("Accept") == "application/json":
            # One photo uploaded as soon as it was chosen (generate.js), which reads this.
            message = (
                f"This file is {describe_size(length, round_up=True)}; "
                f"the limit is {describe_size(settings.UPLOAD_MAX_BYTES)}."
            )
            return JsonResponse({"error": message}, status=413)
        if request.path == reverse("new_run"):
            message = (
                f"Together these files are {describe_size(length)}; the run form can carry at most "
                f"{describe_size(limit)} at once. No run was started and none of these files was kept: "
                "go back and add them in smaller groups with “Add files and keep choosing” "
                f"(each file up to {describe_size(settings.UPLOAD_MAX_BYTES)})."
            )
        else:
            message = (
                f"Together these files are {describe_size(length)}; one job can send at most "
                f"{describe_size(limit)}. Nothing was sent and your images are still attached: "
                f"use smaller files (each up to {describe_size(settings.UPLOAD_MAX_BYTES)})."
            )
        response = HttpResponse(render_to_string("413.html", {"message": message}), status=413)
        if request.headers.get("HX-Request"):
            response["HX-Trigger"] = json.dumps({"showMessage": message})
        return response


class TextGZipMiddleware(GZipMiddleware):
    """Django's GZipMiddleware, with its BREACH mitigation, for text responses only.

    Images (result previews and stock images proxied from the upstream, stored inputs,
    placeholders) are compressed already: gzip would only spend CPU on them, and on
    FileResponse streams it cannot even check that the result is smaller. Static files
    never get here: whitenoise, above this in MIDDLEWARE, serves its own precompressed
    copies.

    What a compressed page holds that must stay secret from a BREACH attacker (who
    injects guesses into a response and watches its compressed length): the CSRF token,
    which Django masks afresh in every response, and the CSP nonce, new in every
    response; neither is stable, so there is nothing to guess over many requests.
    Django also pads the gzip header with up to 100 random bytes ("Heal the BREACH").
    The API key never appears in a body, and the session id travels only in the
    Cookie/Set-Cookie headers, which gzip does not touch. The rest of a page (history
    items, names, error messages) is what the logged-in designer may see anyway.
    """

    COMPRESSIBLE = ("text/", "application/json")

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        content_type = response.get("Content-Type", "")
        # An event stream is written an event at a time: gzip would hold events back.
        if not content_type.startswith(self.COMPRESSIBLE) or content_type.startswith("text/event-stream"):
            return response
        return super().process_response(request, response)
