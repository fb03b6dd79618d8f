"""Keeping the API key out of everything the upstream sends back to be shown or logged."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from dashboard.genapi.types import HistoryItem

_BEARER = re.compile(r"(?i)(bearer\s+)\S+")


def redact(text: str, api_key: str) -> str:
    """The text without the key (and without any Authorization value)."""
    if api_key:
        text = text.replace(api_key, "[redacted]")
    return _BEARER.sub(r"\1[redacted]", text)


def redact_value(value: Any, api_key: str) -> Any:
    if isinstance(value, str):
        return redact(value, api_key)
    if isinstance(value, Mapping):
        return {redact_value(key, api_key): redact_value(inner, api_key) for key, inner in value.items()}
    if isinstance(value, list):
        return [redact_value(inner, api_key) for inner in value]
    return value


def redact_item(item: HistoryItem, api_key: str) -> HistoryItem:
    """A record's free text (error message, unknown fields) is shown to designers as the
    upstream sent it: the key it may echo is removed as from error bodies."""
    return replace(
        item,
        raw_status=redact(item.raw_status, api_key),
        tool=redact_value(item.tool, api_key),
        style_id=redact_value(item.style_id, api_key),
        error_message=redact_value(item.error_message, api_key),
        extra=redact_value(item.extra, api_key),
    )
