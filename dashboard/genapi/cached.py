"""The calls the dashboard makes, fronted by its shared cache: every key and every
invalidation rule lives here, so no view or helper ever names a cache key.

What is cached, and why it stays right:
- the catalogue (tools, each tool's styles): changes rarely, minutes are fine;
- finished items: their results never change; a change made here (a rating, a delete)
  forgets the item, so the next read fetches the upstream's own answer;
- result previews and style previews, as bytes (small, asked for by every grid).
Running items are never cached: their status is what the sync process follows.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterable
from typing import Literal, cast

from django.conf import settings
from django.core.cache import cache, caches

from dashboard.genapi.parsing import is_valid_id, validate_id
from dashboard.genapi.redaction import clean_image, clean_image_file
from dashboard.genapi.transport import client
from dashboard.genapi.types import (
    GenApiError,
    HistoryItem,
    HistoryPage,
    JobCreated,
    NotAnImage,
    NotFound,
    ResultFile,
    Style,
    Tool,
    UploadFile,
    UpstreamAuthError,
)

CATALOGUE_SECONDS = 300
# Previews are small and asked for by every grid: keep them; stock PNGs stream through.
PREVIEW_CACHE_BYTES = 2 * 1024 * 1024
# An id the upstream said it does not know is believed for this long (a poll naming
# invented ids would otherwise cost a read per id per tick).
NOT_FOUND_SECONDS = 15


def _key(*parts: str) -> str:
    # Stable across processes, so workers sharing Redis share entries; per upstream, so
    # two deployments (or tests) on one cache never read each other's.
    origin = hashlib.sha256(settings.GENAPI_BASE_URL.encode()).hexdigest()[:12]
    return ":".join(("genapi", origin, *parts))


def _cached[T](key: str, read: Callable[[], T], seconds: int) -> T:
    """`read()`'s value, shared through the cache for `seconds`."""
    return cast(T, cache.get_or_set(key, read, seconds))


def tools() -> list[Tool]:
    return _cached(_key("tools"), client().tools, CATALOGUE_SECONDS)


def styles(tool: str) -> list[Style]:
    return _cached(_key("styles", validate_id(tool)), lambda: client().styles(tool), CATALOGUE_SECONDS)


def style(tool: str, style_id: str) -> Style | None:
    return next((found for found in styles(tool) if found.id == style_id), None)


def item(item_id: str, *, fresh: bool = False) -> HistoryItem:
    """One history item; finished ones come from the cache when they can. `fresh`: what
    the upstream stores now, after a change made here (a listing asked before the change
    and answered after it may have put the old answer back in the cache)."""
    key, missing_key = _key("item", validate_id(item_id)), _key("missing", item_id)
    cached = {} if fresh else cache.get_many([key, missing_key])
    if missing_key in cached:
        raise NotFound()
    found = cached.get(key)
    if found is None:
        try:
            found = client().history_item(item_id)
        except NotFound:
            cache.set(missing_key, True, NOT_FOUND_SECONDS)
            raise
        _remember([found])
    return found


def known_item(item_id: str) -> HistoryItem | None:
    """The item as last seen, if it is cached: never an upstream call."""
    return cache.get(_key("item", item_id)) if is_valid_id(item_id) else None


def history(
    *, page: int = 1, limit: int = 20, statuses: Iterable[str] = (), style_id: str | None = None
) -> HistoryPage:
    """One page of the listing; its finished items spare detail reads later."""
    listing = client().history(page=page, limit=limit, statuses=statuses, style_id=style_id)
    _remember(listing.items)
    return listing


def _remember(items: Iterable[HistoryItem]) -> None:
    finished = {_key("item", found.id): found for found in items if not found.is_pending and is_valid_id(found.id)}
    if finished:
        cache.set_many(finished, settings.GENAPI_ITEM_CACHE_SECONDS)


def _forget(item_id: str) -> None:
    if is_valid_id(item_id):
        cache.delete(_key("item", item_id))


def set_like(item_id: str, like: bool) -> None:
    """Store a rating. The upstream's answer to it is undocumented, so the cached copy is
    dropped and the next `item()` reads the stored state."""
    client().set_feedback(item_id, like)
    _forget(item_id)


def delete(item_id: str) -> None:
    """Delete an item; one the upstream no longer has counts as deleted (an id it could
    never have issued raises InvalidId)."""
    validate_id(item_id)
    try:
        client().delete(item_id)
    except NotFound:
        pass
    _forget(item_id)
    cache.set(_key("missing", item_id), True, NOT_FOUND_SECONDS)


def create_job(tool: str, files: list[UploadFile], *, style_id: str | None = None) -> JobCreated:
    """Send one job (never retried: a retry could start, and bill, a second one)."""
    return client().create_job(tool, files, style_id=style_id)


def _fetch_clean_image(path: str | None) -> bytes:
    cleaned = clean_image(client().fetch_image(path).content)
    if cleaned is None:
        raise NotAnImage()
    return cleaned


def result_image(found: HistoryItem, kind: Literal["preview", "stock"]) -> bytes:
    """A finished item's preview (cached) or full-quality stock image (passed through),
    without metadata."""
    if kind == "stock":
        return _fetch_clean_image(found.stock_path)
    key = _key("preview", validate_id(found.id))
    content = cache.get(key)
    if content is None:
        content = _fetch_clean_image(found.preview_path)
        if len(content) <= PREVIEW_CACHE_BYTES:
            cache.set(key, content, settings.GENAPI_ITEM_CACHE_SECONDS)
    return content


def open_result(found: HistoryItem, *, within: float | None = None) -> ResultFile:
    """A finished item's full-quality image, for archives of many: copied from the
    upstream into a temporary file piece by piece, then stripped of metadata into
    another, so no image is ever held whole in memory; never cached (each is read once).
    `within`: the seconds the caller has left for it."""
    with tempfile.TemporaryFile() as raw:
        client().download_image(found.stock_path, raw, within=within)
        cleaned = tempfile.TemporaryFile()
        try:
            extension = clean_image_file(raw, cleaned)
        except BaseException:
            cleaned.close()
            raise
    if extension is None:
        cleaned.close()
        raise NotAnImage()
    return ResultFile(cleaned, extension=extension, size=cleaned.tell())


def style_preview(chosen: Style) -> bytes:
    return _cached(
        _key("style-preview", validate_id(chosen.tool), validate_id(chosen.id)),
        lambda: _fetch_clean_image(chosen.preview_path),
        CATALOGUE_SECONDS,
    )


def health() -> str:
    """ "ok", "key refused" or "unavailable": the upstream as the health check reports it,
    probed at most once per HEALTHZ_CACHE_SECONDS by all workers together.

    Shared through the cache (Redis); each process also keeps the answer in its own
    memory, so even with Redis down a flood of health checks cannot reach the API.
    """
    seconds = settings.HEALTHZ_CACHE_SECONDS
    key, local = _key("health"), caches["local"]
    state = local.get(key)
    if state is None:
        state = cache.get_or_set(key, _probe, seconds)
        local.set(key, state, seconds)
    return state


def _probe() -> str:
    try:
        client().tools()
    except UpstreamAuthError:
        return "key refused"
    except GenApiError:
        return "unavailable"
    return "ok"


def last_problem() -> str | None:
    """What went wrong with this process's last upstream call (unreachable, key refused)."""
    return client().last_problem
