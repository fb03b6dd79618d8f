"""The simulator's fixed catalogue: tools, their image slots and their generation types.

The tool list is exactly the vendor's seed (api-examples.txt), in its order. Slots and
generation types are undocumented upstream; the values here are plausible stand-ins that
the dashboard must handle, not facts about the real service.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Tool:
    group_tool: str
    tool: str
    title: str
    # Ordered upload slots; the *last* one is the subject photo checked for "nobody there".
    slots: tuple[str, ...]
    # Sentence used when the subject photo is one flat colour.
    empty_subject_error: str


@dataclass(frozen=True)
class GenerationType:
    id: str
    tool: str
    title: str
    brand_url: str | None

    @property
    def preview_path(self) -> str:
        # Relative to the base URL, without a leading slash, as the older client saw it.
        return f"image/generation_type/{self.id}.webp"


_FASHION_SLOTS = ("clothes", "person")
_NO_PERSON = "No person was found in the model photo"

TOOLS: tuple[Tool, ...] = (
    Tool("fashion", "lego_clothes", "Lego Clothes", _FASHION_SLOTS, _NO_PERSON),
    Tool("fashion", "mamasfit", "MamasFit", _FASHION_SLOTS, _NO_PERSON),
    Tool("fashion", "lengerie", "Lengerie", _FASHION_SLOTS, _NO_PERSON),
    Tool("fashion", "fashion_card", "Fashion Card", _FASHION_SLOTS, _NO_PERSON),
    Tool("fashion", "fashion_swap", "Fashion Swap", _FASHION_SLOTS, _NO_PERSON),
    Tool("fashion", "fashion_swap_half", "Fashion Swap Half", _FASHION_SLOTS, _NO_PERSON),
    Tool("interior", "furniture", "Furniture", ("furniture", "room"), "No room was found in the room photo"),
    Tool("textile", "fabric", "Fabric", ("fabric", "product"), "No product was found in the product photo"),
    # One slot only, so that slot is the subject that must not be empty.
    Tool("default", "default", "Default", ("image",), "No subject was found in the image"),
)

TOOLS_BY_NAME: dict[str, Tool] = {tool.tool: tool for tool in TOOLS}

# Every distinct slot name, in first-seen order: the create endpoint declares each as an
# optional file so /openapi.json documents them, then checks per tool which are required.
ALL_SLOTS: tuple[str, ...] = tuple(dict.fromkeys(slot for tool in TOOLS for slot in tool.slots))

# (title, brand slug or None); a None brand gives brand_url null, which clients must tolerate.
_TYPE_TITLES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "lego_clothes": (("Brick minifigure", "brickworks"), ("Playset box art", None)),
    "mamasfit": (("Maternity studio", "mamasfit"), ("Outdoor bump", "mamasfit"), ("Nursery soft light", None)),
    "lengerie": (("Boudoir soft light", "maison-rouge"), ("Catalogue", None)),
    "fashion_card": (("Lookbook card", "lookbook"), ("Social post", None), ("Price tag card", "tagline")),
    "fashion_swap": (("Studio white", "atelier-nord"), ("Street style", None), ("Catalogue", "atelier-nord")),
    "fashion_swap_half": (("Upper body studio", "atelier-nord"), ("Mirror selfie", None)),
    "furniture": (("Scandinavian", "nordhem"), ("Industrial loft", "forge-and-oak"), ("Mid-century", None)),
    "fabric": (("Upholstery", "weaveworks"), ("Curtains", None)),
    "default": (),
}


def _type_id(tool: str, title: str) -> str:
    # Deterministic 24-hex id (ObjectId-sized) so ids survive restarts and re-seeding.
    return hashlib.sha1(f"{tool}:{title}".encode()).hexdigest()[:24]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


GENERATION_TYPES: dict[str, tuple[GenerationType, ...]] = {
    tool: tuple(
        GenerationType(
            id=_type_id(tool, title),
            tool=tool,
            title=title,
            brand_url=f"https://example.com/brand/{_slug(brand)}" if brand else None,
        )
        for title, brand in titles
    )
    for tool, titles in _TYPE_TITLES.items()
}

GENERATION_TYPES_BY_ID: dict[str, GenerationType] = {
    gtype.id: gtype for types in GENERATION_TYPES.values() for gtype in types
}
