"""Log lines that say which request, task or sync tick they belong to.

The context (request_id, task_id and cell, tick) lives in a contextvar: set by the
request-id middleware for a page, by the task for a run's cell, by the sync loop for a
tick, and read by a filter on the log handler, so every logger (Django's, ours, the
upstream calls' in dashboard/genapi/transport.py) carries it without being told. A
contextvar rather than a thread-local: the event streams are coroutines on one thread,
and pages run on a2wsgi's threads; each sees its own. Bulk actions copy it into their
pool's threads (dashboard/core/concurrency.py).

Two formats (LOG_FORMAT): json, one object a line for a log collector (python-json-logger),
and text for a terminal. Both take the API key out of the finished line, whatever logged it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from pythonjsonlogger.json import JsonFormatter

from dashboard.genapi.redaction import redact

FIELDS = ("request_id", "task_id", "cell", "tick")
_context: ContextVar[dict[str, Any]] = ContextVar("log_context")

# An id a proxy or a client sent is kept when it cannot forge a log line or flood one:
# letters, digits and . _ - only, 8 to 64 of them (UUIDs, ULIDs, hex and most tracers' ids).
WELL_FORMED_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
REQUEST_ID_HEADER = "X-Request-ID"

requests_logger = logging.getLogger("dashboard.requests")


def new_id() -> str:
    return uuid.uuid4().hex


@contextlib.contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Every line logged inside carries these fields (besides those already bound)."""
    token = _context.set({**_context.get({}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def current() -> dict[str, Any]:
    return dict(_context.get({}))


class AddContext(logging.Filter):
    """Puts the bound fields on each record (as attributes: both formatters read them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get({}).items():
            setattr(record, name, value)
        # Django logs a 4xx or 5xx answer (django.request) after the middleware has let go
        # of the request; the request it names still knows its id.
        request_id = getattr(getattr(record, "request", None), "request_id", None)
        if request_id and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


def _api_key() -> str:
    from django.conf import settings

    return getattr(settings, "GENAPI_API_KEY", "") if settings.configured else ""


class Json(JsonFormatter):
    """One JSON object a line: time, level, logger, message, the bound fields, extras."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")  # ISO 8601, UTC
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), _api_key())


class Text(logging.Formatter):
    """The plain line a developer reads, the bound fields at its end (request_id=...)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        bound_fields = " ".join(f"{name}={getattr(record, name)}" for name in FIELDS if hasattr(record, name))
        if bound_fields:
            first, newline, rest = line.partition("\n")
            line = f"{first} {bound_fields}{newline}{rest}"
        return redact(line, _api_key())


class RequestId:
    """First in the middleware: the request's id, from a well-formed X-Request-ID (a proxy's)
    or new, bound for every line the request logs, returned in the response's header, and
    one line for the request itself (method, path, status, milliseconds). Sync and async:
    the event streams go through it on the event loop without a thread."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self._answer_async(request)
        request_id = request.request_id = self.request_id(request)  # type: ignore[attr-defined]
        started = time.perf_counter()
        with bound(request_id=request_id):
            response = self.get_response(request)
            return self.finish(request, response, request_id, started)

    async def _answer_async(self, request: HttpRequest):
        request_id = request.request_id = self.request_id(request)  # type: ignore[attr-defined]
        started = time.perf_counter()
        with bound(request_id=request_id):
            response = await self.get_response(request)
            return self.finish(request, response, request_id, started)

    @staticmethod
    def request_id(request: HttpRequest) -> str:
        sent = request.headers.get(REQUEST_ID_HEADER, "")
        return sent if WELL_FORMED_ID.fullmatch(sent) else new_id()

    @staticmethod
    def finish(request: HttpRequest, response: HttpResponseBase, request_id: str, started: float):
        response[REQUEST_ID_HEADER] = request_id
        milliseconds = (time.perf_counter() - started) * 1000
        # The path without its query (search words are the designer's own), redacted like
        # an upstream path in case a key was pasted into a URL.
        path = redact(request.path, _api_key())
        requests_logger.info(
            "%s %s %s %.1fms",
            request.method,
            path,
            response.status_code,
            milliseconds,
            extra={
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "ms": round(milliseconds, 1),
            },
        )
        return response
