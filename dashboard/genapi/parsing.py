"""Reading the upstream's tolerant shapes (shared/api-contract.md) into typed values.

Bare lists or envelopes, ids as strings or integers, image paths with or without a
leading slash, unknown statuses as "still running", extra fields kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote

from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from dashboard.genapi.types import HistoryItem, HistoryPage, InvalidId, Status, Style, Tool, UpstreamError

# Ids travel through the browser and back; only this shape may become a path segment.
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
# The upstream's names for what the dashboard calls otherwise (its 422s name its fields).
DASHBOARD_FIELD_NAMES = {"generation_type": "style"}


def validate_id(item_id: object) -> str:
    """The id as a string, or InvalidId when it must not reach an upstream URL."""
    if isinstance(item_id, int) and not isinstance(item_id, bool):
        item_id = str(item_id)
    if not isinstance(item_id, str) or not ID_PATTERN.fullmatch(item_id):
        raise InvalidId()
    return item_id


def is_valid_id(item_id: object) -> bool:
    try:
        validate_id(item_id)
    except InvalidId:
        return False
    return True


def segment(item_id: object) -> str:
    """A validated id, percent-encoded as exactly one path segment."""
    return quote(validate_id(item_id), safe="")


def text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        stripped = str(value).strip()
        return stripped or None
    return None


def parse_datetime(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta or HTTP date), as urllib3 reads it."""
    if not value:
        return None
    try:
        return Retry().parse_retry_after(value)
    except InvalidHeader:
        return None


def parse_tool(raw: object) -> Tool | None:
    if not isinstance(raw, Mapping):
        return None
    name = text(raw.get("tool"))
    if not name or not is_valid_id(name):  # it travels in URLs, as ?tool= and in paths
        return None
    title = text(raw.get("title")) or name.replace("_", " ").title()
    group = text(raw.get("group_tool")) or "default"
    return Tool(name=name, title=title, group=group)


def parse_style(raw: object, tool: str) -> Style | None:
    if not isinstance(raw, Mapping):
        return None
    style_id = text(raw.get("id") if "id" in raw else raw.get("_id"))
    if not style_id or not is_valid_id(style_id):
        return None
    return Style(
        id=style_id,
        title=text(raw.get("title")) or text(raw.get("name")) or style_id,
        tool=tool,
        preview_path=text(raw.get("preview_url")),
        brand_url=text(raw.get("brand_url")),
    )


KNOWN_ITEM_FIELDS = {
    "id",
    "status",
    "generation_type",
    "generation_type_id",
    "created_at",
    "preview_url",
    "stock_url",
    "like",
}


def parse_history_item(raw: object) -> HistoryItem | None:
    if not isinstance(raw, Mapping):
        return None
    item_id = text(raw.get("id"))
    if item_id is None and "_id" in raw:
        item_id = text(raw.get("_id"))
    if item_id is None or not is_valid_id(item_id):
        # Nothing could be done with it: every action puts the id in an upstream URL.
        return None
    raw_status = text(raw.get("status")) or "pending"
    status = Status(raw_status.lower()) if raw_status.lower() in Status.values else Status.PENDING
    like = raw.get("like")
    error_message = None
    if status == Status.ERROR:
        for key in ("error", "error_message", "message", "detail"):
            error_message = text(raw.get(key))
            if error_message:
                break
    return HistoryItem(
        id=item_id,
        status=status,
        raw_status=raw_status,
        tool=text(raw.get("generation_type")),
        style_id=text(raw.get("generation_type_id")),
        created_at=parse_datetime(raw.get("created_at")),
        preview_path=text(raw.get("preview_url")),
        stock_path=text(raw.get("stock_url")),
        like=like if isinstance(like, bool) else None,
        error_message=error_message,
        extra={key: value for key, value in raw.items() if key not in KNOWN_ITEM_FIELDS},
    )


def _as_int(envelope: Mapping[str, object], key: str) -> int | None:
    value = envelope.get(key)
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def parse_history_page(body: object, *, page: int, limit: int) -> HistoryPage:
    if isinstance(body, list):
        raw_items: Iterable[object] = body
        envelope: Mapping[str, object] = {}
    elif isinstance(body, Mapping):
        envelope = body
        raw_items = next(
            (value for key in ("items", "results", "data") if isinstance(value := body.get(key), list)), []
        )
    else:
        raise UpstreamError("The generation service answered with an unexpected history listing.")
    items = [item for raw in raw_items if (item := parse_history_item(raw)) is not None]
    total = _as_int(envelope, "total_count")
    if total is None:
        total = _as_int(envelope, "total")
    pages = _as_int(envelope, "pages")
    if pages is None and total is not None:
        pages = math.ceil(total / limit) if limit else 1
    if pages is None:
        # A bare list says nothing about what follows: a full page suggests more.
        pages = page + 1 if len(items) >= limit else page
    current = _as_int(envelope, "page") or page
    return HistoryPage(items=items, page=current, limit=limit, pages=max(pages, 0), total_count=total)


def error_message(body: object) -> tuple[str | None, dict[str, list[str]]]:
    """The upstream's human message and any per-field errors, from FastAPI-style bodies.

    Field names are the dashboard's (DASHBOARD_FIELD_NAMES), so forms can place them."""
    if not isinstance(body, Mapping):
        return None, {}
    detail = body.get("detail")
    if isinstance(detail, list):
        fields: dict[str, list[str]] = {}
        general: list[str] = []
        for entry in detail:
            if not isinstance(entry, Mapping):
                continue
            msg = text(entry.get("msg")) or "Invalid value."
            loc = entry.get("loc")
            name = None
            if isinstance(loc, list):
                names = [
                    str(part)
                    for part in loc
                    if not isinstance(part, int) and part not in ("body", "query", "path", "header")
                ]
                name = names[-1] if names else None
            if name:
                fields.setdefault(DASHBOARD_FIELD_NAMES.get(name, name), []).append(msg)
            else:
                general.append(msg)
        return ("; ".join(general) or None), fields
    for key in ("detail", "message", "error"):
        message = text(body.get(key))
        if message:
            return message, {}
    return None, {}
