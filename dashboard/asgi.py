"""The web process's application (the Procfile's `web`: gunicorn with uvicorn workers).

Two doors in one process. The event streams (`/events/`, dashboard/live/) are served by
Django's ASGI handler: an async view waits on its queue holding no thread and no database
connection, so one process keeps a thousand open. Every page goes, as before, through
Django's WSGI handler, run by a2wsgi on a pool of WEB_THREADS threads: a thread keeps its
database connection between requests (CONN_MAX_AGE, the pool), which Django's docs say to
turn off for views served over ASGI, and the pages, uploads and ZIP streams behave and
cost what they did under gunicorn's threaded workers.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

from a2wsgi import WSGIMiddleware  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import reverse  # noqa: E402

# (Django's stubs type the WSGI handler's answer as its response object, which is iterable.)
pages = WSGIMiddleware(get_wsgi_application(), workers=settings.WEB_THREADS)  # type: ignore[arg-type]


class StreamHandler(ASGIHandler):
    """Django's ASGI handler without a thread of its own for each request.

    Django gives each request a context whose sync code (the middleware, the login's
    query) runs in a thread made for it, kept until the response ends: for a stream,
    a thread per open tab (measured: 230 KiB each). Here that short sync work (a
    stream's start and end) runs in the one thread asgiref keeps for it, and the view
    closes that thread's database connection before it waits."""

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django serves HTTP only, not {scope['type']}.")
        await self.handle(scope, receive, send)


streams = StreamHandler()
EVENTS_PATH = reverse("events")


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"] == EVENTS_PATH:
        await streams(scope, receive, send)
    elif scope["type"] == "lifespan":
        # Nothing to start or stop: the hub subscribes with the first stream.
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
    else:
        await pages(scope, receive, send)
