"""The history index for tests: results put in it as the sync process would record them,
or the sync run at once (`catch_up`), so pages have something to show.

    indexed({"id": "abc...", "status": "complete", "generation_type": "fashion_swap"})
"""

from __future__ import annotations

from dashboard.core.catalogue import Catalogue
from dashboard.genapi.parsing import parse_history_item
from dashboard.index import services as index
from dashboard.index import sync
from dashboard.jobs import services as jobs
from dashboard.models import IndexedResult


def indexed(*raw_items: dict, known: Catalogue | None = None) -> list[IndexedResult]:
    """Record these items (shaped as the API sends them) as the sync process would."""
    items = [item for raw in raw_items if (item := parse_history_item(raw)) is not None]
    index.record_seen(items, known or Catalogue(tools={}, styles={}))
    jobs.record_seen(items)
    return list(IndexedResult.objects.filter(history_item_id__in=[item.id for item in items]))


def catch_up() -> None:
    """What the sync process would do by itself: read the whole upstream once."""
    sync.catch_up()
