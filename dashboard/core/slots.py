"""Which images each tool takes: the one declarative table.

The upstream does not document the image fields of each tool (only `clothes` and
`person` for fashion_swap), so they live here, by tool group with per-tool exceptions,
and a deployment can replace any entry with the GENAPI_TOOL_SLOTS setting (JSON):

    {"furniture": [{"name": "furniture", "label": "Furniture"},
                   {"name": "room", "label": "Room photo", "keep": true}]}

Keys are tool names or group names; a tool's own entry wins over its group's.
`keep` marks the slot that stays attached after a job is sent (designers try many
garments on one model photo).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SLOT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True)
class Slot:
    name: str
    label: str
    help: str = ""
    keep: bool = False


DEFAULT_SLOTS: dict[str, tuple[Slot, ...]] = {
    "fashion": (
        Slot("clothes", "Garment", "The garment on its own: flat-lay, hanger or packshot."),
        Slot("person", "Model photo", "A clear photo of the person who will wear it.", keep=True),
    ),
    "interior": (
        Slot("furniture", "Furniture", "The piece on its own, ideally on a plain background."),
        Slot("room", "Room photo", "The room it should be placed in.", keep=True),
    ),
    "textile": (
        Slot("fabric", "Fabric swatch", "A flat, evenly lit photo of the fabric."),
        Slot("product", "Product photo", "The product the fabric goes on.", keep=True),
    ),
    "default": (Slot("image", "Source image", "The image to work from."),),
}


def _parse_overrides(raw: str) -> dict[str, tuple[Slot, ...]]:
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"GENAPI_TOOL_SLOTS is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ImproperlyConfigured("GENAPI_TOOL_SLOTS must be a JSON object of tool or group names.")
    table: dict[str, tuple[Slot, ...]] = {}
    for key, entries in data.items():
        if not isinstance(entries, list) or not entries:
            raise ImproperlyConfigured(f"GENAPI_TOOL_SLOTS[{key!r}] must be a non-empty list of slots.")
        slots = []
        for entry in entries:
            name = entry.get("name") if isinstance(entry, dict) else None
            if not isinstance(name, str) or not SLOT_NAME.fullmatch(name):
                raise ImproperlyConfigured(f"GENAPI_TOOL_SLOTS[{key!r}] has a slot without a valid name.")
            slots.append(
                Slot(
                    name=name,
                    label=str(entry.get("label") or name.replace("_", " ").capitalize()),
                    help=str(entry.get("help") or ""),
                    keep=bool(entry.get("keep", False)),
                )
            )
        if len({slot.name for slot in slots}) != len(slots):
            raise ImproperlyConfigured(f"GENAPI_TOOL_SLOTS[{key!r}] names a slot twice.")
        table[key] = tuple(slots)
    return table


@cache
def _table(raw: str) -> dict[str, tuple[Slot, ...]]:
    return {**DEFAULT_SLOTS, **_parse_overrides(raw)}


def slots_for(tool: str, group: str) -> tuple[Slot, ...]:
    table = _table(settings.GENAPI_TOOL_SLOTS_JSON)
    return table.get(tool) or table.get(group) or table["default"]


def kinds() -> dict[str, str]:
    """Every slot name in the tool → slot table, with its label (the first tool's, in
    table order): the kinds of image the input library files."""
    found: dict[str, str] = {}
    for slots in _table(settings.GENAPI_TOOL_SLOTS_JSON).values():
        for slot in slots:
            found.setdefault(slot.name, slot.label)
    return found
