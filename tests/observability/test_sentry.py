"""Errors go to Sentry without the API key or the designer's photos: checked on what a
transport that sends nothing anywhere receives."""

import base64
import json

import pytest
import sentry_sdk
from django.core.files.uploadedfile import SimpleUploadedFile
from sentry_sdk.transport import Transport

from dashboard.observability import errors

pytestmark = pytest.mark.django_db

PHOTO = b"\x89PNG\r\n\x1a\n" + b"PHOTO-BYTES-" * 64


class KeptHere(Transport):
    """Sentry's transport, keeping each envelope instead of sending it."""

    sent: list = []

    def capture_envelope(self, envelope):
        KeptHere.sent.append(envelope)


@pytest.fixture
def sentry():
    KeptHere.sent = []
    errors.start("https://public@sentry.example.invalid/1", transport=KeptHere)
    yield KeptHere.sent
    sentry_sdk.init()  # no DSN: nothing is reported from here on


def events(envelopes) -> list[str]:
    return [
        item.payload.get_bytes().decode() for envelope in envelopes for item in envelope.items if item.type == "event"
    ]


@pytest.mark.urls("tests.observability.crashing_urls")
def test_an_error_reaches_sentry_without_the_key_or_the_photo(client, sentry, settings):
    client.raise_request_exception = False
    key = settings.GENAPI_API_KEY

    response = client.post(
        "/fails",
        {"photo": SimpleUploadedFile("me.png", PHOTO, "image/png"), "note": key},
        headers={"Authorization": f"Bearer {key}", "X-Request-ID": "error-request-0001"},
    )
    sentry_sdk.flush()

    assert response.status_code == 500
    [event] = events(sentry)
    parsed = json.loads(event)
    assert parsed["exception"]["values"][0]["type"] == "RuntimeError"
    assert key not in event
    assert base64.b64encode(key.encode()).decode()[:12] not in event
    assert "PHOTO-BYTES" not in event
    assert base64.b64encode(PHOTO).decode()[:40] not in event
    assert "[redacted]" in parsed["exception"]["values"][0]["value"]
    assert parsed["tags"]["request_id"] == "error-request-0001"  # found by the id in the logs
