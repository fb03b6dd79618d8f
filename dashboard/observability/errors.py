"""Error reports to Sentry (sentry-sdk) when SENTRY_DSN is set, never carrying the API
key or a designer's photos.

What leaves: the exception, its stack (files, lines, functions), the request's method,
URL and harmless headers, the log lines before it (breadcrumbs), the request id. What
does not: request bodies and uploaded files (never read: max_request_body_size; dropped
again in `scrub`), the stack's local variables (one can hold a photo's bytes or the key),
cookies and user details (sentry-sdk leaves them out by default), and the key anywhere in what is left
(`scrub` runs the redaction module over every string of the event).
"""

from __future__ import annotations

from typing import Any

import sentry_sdk
from django.conf import settings
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.types import Event, Hint

from dashboard.genapi.redaction import redact_value
from dashboard.observability import logs

_DROPPED_REQUEST_PARTS = ("data", "cookies", "env")
_SECRET_HEADERS = {"authorization", "cookie", "x-csrftoken", "proxy-authorization"}


def scrub(event: Event, hint: Hint) -> Event:
    """Sentry's before_send: the event without bodies, files, secrets or the key."""
    request = event.get("request")
    if isinstance(request, dict):
        for part in _DROPPED_REQUEST_PARTS:
            request.pop(part, None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {name: value for name, value in headers.items() if name.lower() not in _SECRET_HEADERS}
    for exception in (event.get("exception") or {}).get("values") or []:
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
    context = logs.current()
    if context:
        event.setdefault("tags", {}).update({name: str(value) for name, value in context.items()})
    return redact_value(event, settings.GENAPI_API_KEY)


def start(dsn: str, **options: Any) -> None:
    """Reports to `dsn` from now on (settings.py, when SENTRY_DSN is set; tests pass a transport)."""
    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration()],
        max_request_body_size="never",
        include_local_variables=False,
        before_send=scrub,
        **options,
    )
