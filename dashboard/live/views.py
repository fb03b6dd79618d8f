"""The event stream (`/events/`): one per open page of a logged-in designer.

An async view, served by Django's ASGI handler (dashboard/asgi.py): while it waits it
holds no thread and no database connection, only a small queue in this process's hub.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import connections
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from dashboard.live.hub import CLOSED, Stream, hub


@require_GET
async def events(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    if not isinstance(request, ASGIRequest):
        # Served by the WSGI handler (runserver, a test's live server): a stream would
        # hold a thread for its whole life. The page polls.
        return HttpResponse(status=204)
    user = await request.auser()  # logged in: LoginRequiredMiddleware let it through
    # The login was read in this request's own thread; its connection is not kept for
    # the minutes the stream stays open.
    await sync_to_async(connections.close_all)()
    stream = await hub().open(user.pk or 0)
    if stream is None:
        # No push here (no Redis, or it is down): an answer that is not a stream fails
        # the browser's EventSource for good, and the page polls as it always did.
        return HttpResponse(status=204)
    response = StreamingHttpResponse(sent(stream), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache, no-transform"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


async def sent(stream: Stream) -> AsyncIterator[str]:
    """The stream's text: a reconnection delay first, then each event as it comes, a
    comment when nothing came for a heartbeat (proxies close silent connections), until
    the hub ends it, LIVE_STREAM_SECONDS pass (the browser reconnects, perhaps to another
    instance, and its session is checked again) or the browser goes (Django cancels it)."""
    ends = time.monotonic() + settings.LIVE_STREAM_SECONDS
    try:
        yield f"retry: {settings.LIVE_RETRY_MS}\n\n"
        while (left := ends - time.monotonic()) > 0:
            try:
                message = await asyncio.wait_for(stream.queue.get(), min(settings.LIVE_HEARTBEAT_SECONDS, left))
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            if message is CLOSED:
                return
            yield f"event: {message['event']}\ndata: {json.dumps(message['data'])}\n\n"
    finally:
        hub().close(stream)
