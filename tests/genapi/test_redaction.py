"""The key cannot be read back from anything the upstream sends, however it is encoded:
redaction is tested as an attacker would read its output (tests/support/key_recovery.py
decodes every run of encoded-looking text from every offset)."""

import base64

import pytest

from dashboard.genapi.redaction import REDACTED, redact
from tests.support.key_recovery import pieces_of_key

KEY = "sk-live-7f3a9c2e4b1d8f6a0e5c3b9d7a1f4e2c"
ENCODERS = {
    "base64": base64.b64encode,
    "base64 url-safe": base64.urlsafe_b64encode,
    "base64 unpadded": lambda data: base64.b64encode(data).rstrip(b"="),
    "base32": base64.b32encode,
    "base32 lower case": lambda data: base64.b32encode(data).lower(),
    "hex": lambda data: data.hex().encode(),
    "hex upper case": lambda data: data.hex().upper().encode(),
}
# Any text before the key moves it to every offset of an encoding's groups (3 bytes for
# base64, 5 for base32).
PREFIXES = ["", "A", "Au", "Aut", "Auth", "Authorization: Bearer ", "Authorization: Bearer  ", "{'k': '"]


@pytest.mark.parametrize("encoding", ENCODERS)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_key_encoded_inside_a_longer_text_cannot_be_decoded_back(encoding, prefix):
    encoded = ENCODERS[encoding]((prefix + KEY + "', 'retry': true}").encode()).decode()
    message = f"upstream trace: {encoded} (request 41)"
    assert pieces_of_key(message, KEY), "the attacker's decoder finds the key before redaction"

    shown = redact(message, KEY)

    assert pieces_of_key(shown, KEY) == []
    assert REDACTED in shown
    assert shown.startswith("upstream trace: ") and shown.endswith(" (request 41)")


@pytest.mark.parametrize("encoding", ENCODERS)
def test_half_of_the_key_encoded_on_its_own_cannot_be_decoded_back(encoding):
    halves = KEY[:20], KEY[20:]
    message = " / ".join(ENCODERS[encoding](half.encode()).decode() for half in halves)
    assert pieces_of_key(redact(message, KEY), KEY) == []


def test_the_key_as_it_is_in_any_case_or_in_pieces_goes():
    message = f"key {KEY.upper()} then {KEY[3:15]} and {KEY[-9:]}"
    shown = redact(message, KEY)
    assert pieces_of_key(shown, KEY) == []
    assert shown.startswith("key ") and " then " in shown and " and " in shown


def test_no_tail_of_a_copy_is_left_to_join_what_surrounds_it():
    # Found piece after piece, a copy's last 7 characters were left; a template's slug
    # of "[redacted]" then ended in the "d" that comes before them in this key.
    key = "canary-5e1b9f0a2d7c4e6b8a3f1d0c9b2e4dc4f883a"
    shown = redact(key, key)
    assert shown == REDACTED
    assert pieces_of_key("redacted" + shown.replace(REDACTED, ""), key) == []


def test_an_authorization_value_goes_whatever_it_is():
    assert redact("sent Authorization: Bearer abc.def", KEY) == f"sent Authorization: Bearer {REDACTED}"


def test_ordinary_text_ids_and_paths_are_left_alone():
    ordinary = [
        "Processing failed: no person was found in the model photo",
        "6afcf89e465ffdd0b6528fe6",
        "/image/6afcf89e465ffdd0b6528fe6/stock.png",
        "c3a8b1f2-9d4e-4a6b-8c7d-1e2f3a4b5c6d",
        "Fashion Swap Half",
        "aGVsbG8gd29ybGQsIHRoaXMgaXMgbm90IGEga2V5",  # base64 of other text
    ]
    for text in ordinary:
        assert redact(text, KEY) == text
