"""Results side by side (`/history/compare/?ids=a,b,c`): two to four results chosen in
History, each with its inputs, read from the index alone (no upstream call; the images
come through the media proxy). What the designer may see is what the gallery shows them
(`history.matching`); an id outside it is named with the reason, and the rest are shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.urls import reverse

from dashboard import genapi
from dashboard.core.catalogue import catalogue
from dashboard.gallery import history
from dashboard.models import IndexedResult, InputImage, TrashedResult

FEWEST = 2
MOST = 4
# Values read from one address at most: a pasted list of thousands is not worth reading.
READ_AT_MOST = 50
# An id that cannot be a result's is quoted back this long at most.
QUOTED_LENGTH = 40

NOT_FOUND = "No result with this id is in the history: it may have been deleted for good, or never existed."
PRIVATE_IMAGE = "Private image"
RATINGS = {True: "Liked", False: "Disliked", None: "Not rated"}


@dataclass(frozen=True)
class Asked:
    """The ids an address asks to compare: distinct, in order, at most MOST; what was
    left out, and the values that cannot be a result's id."""

    ids: tuple[str, ...]
    beyond: int = 0
    not_ids: tuple[str, ...] = ()


def read_ids(values: list[str]) -> Asked:
    """`?ids=a,b,c` (or `ids` repeated, as a form without JavaScript sends it)."""
    parts = [part.strip() for value in values[:READ_AT_MOST] for part in value.split(",")][:READ_AT_MOST]
    distinct = list(dict.fromkeys(part for part in parts if part))
    valid = [part for part in distinct if genapi.is_valid_id(part)]
    not_ids = tuple(quoted(part) for part in distinct if not genapi.is_valid_id(part))
    return Asked(ids=tuple(valid[:MOST]), beyond=max(0, len(valid) - MOST), not_ids=not_ids)


def quoted(value: str) -> str:
    return value if len(value) <= QUOTED_LENGTH else value[: QUOTED_LENGTH - 1] + "…"


def selection_refusal(count: int) -> str:
    """Why this many selected results cannot be compared, or "" when they can."""
    if count < FEWEST:
        return f"Select {FEWEST} to {MOST} results to compare them side by side ({count} selected)."
    if count > MOST:
        return f"Compare takes {MOST} results at most: {count} are selected. Clear some and try again."
    return ""


def compare_url(ids: list[str], filters: history.Filters) -> str:
    """The compare page for these ids, keeping the gallery's filters for the way back."""
    query = "&".join(filter(None, [urlencode({"ids": ",".join(ids)}, safe=","), filters.query()]))
    return f"{reverse('history_compare')}?{query}"


@dataclass(frozen=True)
class ShownInput:
    label: str
    name: str
    thumbnail_url: str = ""  # none for an image the viewer may not see
    file_url: str = ""


@dataclass
class Panel:
    card: history.Card
    inputs: list[ShownInput]
    rating: str
    image_url: str  # the full image, through the media proxy ("" unless it finished)


@dataclass(frozen=True)
class Missing:
    item_id: str
    reason: str
    in_trash: bool = False


@dataclass
class Comparison:
    panels: list[Panel]
    missing: list[Missing] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def side_by_side(designer, asked: Asked) -> Comparison:
    """The asked results the designer may see, in the order asked, and why any other is not shown."""
    shown = {
        row.history_item_id: row
        for row in history.matching(history.Filters(), designer).filter(history_item_id__in=asked.ids)
    }
    rows = [shown[item_id] for item_id in asked.ids if item_id in shown]
    cards = history.make_cards(rows, catalogue())
    seen = visible_images(designer, cards)
    comparison = Comparison(
        panels=[panel_of(card, seen) for card in cards],
        missing=missing_of([item_id for item_id in asked.ids if item_id not in shown]),
    )
    comparison.notes = notes_for(asked, len(comparison.panels) + len(comparison.missing))
    return comparison


def visible_images(designer, cards: list[history.Card]) -> set[int]:
    used = [entry.image_id for card in cards if card.job for entry in card.job.inputs.all()]
    return set(InputImage.objects.visible_to(designer).filter(pk__in=used).values_list("pk", flat=True))


def panel_of(card: history.Card, seen: set[int]) -> Panel:
    inputs = []
    for entry in card.job.inputs.all() if card.job else []:
        if entry.image_id in seen:
            inputs.append(
                ShownInput(
                    entry.label,
                    entry.image.display_name,
                    reverse("input_image", args=[entry.image_id, "thumbnail"]),
                    reverse("input_image", args=[entry.image_id, "file"]),
                )
            )
        else:
            inputs.append(ShownInput(entry.label, PRIVATE_IMAGE))
    complete = card.item.is_complete
    return Panel(
        card=card,
        inputs=inputs,
        rating=RATINGS[card.like] if complete else "",
        image_url=reverse("result_image", args=[card.item.id, "stock"]) if complete else "",
    )


def missing_of(item_ids: list[str]) -> list[Missing]:
    """Why each id is not shown: in the trash (who moved it there), else not found. A result
    the designer may not see reads as not found, as one that never existed does."""
    if not item_ids:
        return []
    trashed = {entry.history_item_id: entry for entry in TrashedResult.objects.filter(history_item_id__in=item_ids)}
    in_index = set(IndexedResult.objects.filter(history_item_id__in=item_ids).values_list("history_item_id", flat=True))
    found = []
    for item_id in item_ids:
        entry = trashed.get(item_id)
        if entry is not None and item_id in in_index:
            by = f" by {entry.trashed_by_name}" if entry.trashed_by_name else ""
            found.append(Missing(item_id, f"It is in the trash (moved there{by}).", in_trash=True))
        else:
            found.append(Missing(item_id, NOT_FOUND))
    return found


def notes_for(asked: Asked, accounted: int) -> list[str]:
    notes = [f"“{value}” is not a result id, so it was left out." for value in asked.not_ids]
    if asked.beyond:
        notes.append(
            f"Compare shows {MOST} results at most: the first {MOST} of the {MOST + asked.beyond} asked for are here."
        )
    if accounted < FEWEST:
        notes.append(f"Select {FEWEST} to {MOST} results in History and choose Compare to see them side by side.")
    return notes
