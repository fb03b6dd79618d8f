"""What an attacker reading a page or a log line could decode of the API key: every run
of text that could be base64 (either alphabet), base32 or hex, decoded from every
offset, searched for any FRAGMENT_LENGTH bytes of the key, and the text itself searched
in any case.

    assert pieces_of_key(body, key) == []
"""

from __future__ import annotations

import base64
import binascii
import re

from dashboard.genapi.redaction import FRAGMENT_LENGTH

# Each encoding's runs, long enough to hold FRAGMENT_LENGTH bytes from any offset.
RUNS = {
    "base64": (re.compile(r"[A-Za-z0-9+/]{11,}"), 4, base64.b64decode),
    "base64url": (re.compile(r"[A-Za-z0-9_-]{11,}"), 4, base64.urlsafe_b64decode),
    "base32": (re.compile(r"[A-Za-z2-7]{13,}"), 8, lambda text: base64.b32decode(text.upper())),
    "hex": (re.compile(r"[0-9A-Fa-f]{16,}"), 2, lambda text: bytes.fromhex(text)),
}


def decodings(text: str) -> list[tuple[str, bytes]]:
    """Every way the text's encoded-looking runs decode, by encoding."""
    found = []
    for name, (run_pattern, group, decode) in RUNS.items():
        for run in run_pattern.findall(text):
            for offset in range(group):
                usable = run[offset:]
                usable = usable[: len(usable) - len(usable) % group]
                try:
                    found.append((name, decode(usable)))
                except (binascii.Error, ValueError):
                    continue
    return found


def pieces_of_key(text: str, key: str) -> list[str]:
    """Where the text gives away FRAGMENT_LENGTH bytes of the key, as it is or decoded."""
    length = min(FRAGMENT_LENGTH, len(key))
    pieces = {key.encode()[i : i + length] for i in range(len(key) - length + 1)}
    any_piece = re.compile(b"|".join(re.escape(piece) for piece in pieces))
    given = [f"plain: {piece.decode()}" for piece in pieces if piece.decode().lower() in text.lower()]
    for name, decoded in decodings(text):
        given += [f"{name}: {found!r}" for found in any_piece.findall(decoded)]
    return sorted(set(given))
