"""What /insights/ shows: the figures over the gallery's own filters, counted once per
change to the index and kept in the cache."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone

from dashboard.core.catalogue import Catalogue
from dashboard.gallery import history
from dashboard.gallery.history import Filters
from dashboard.index import services as index
from dashboard.insights import figures, queries
from dashboard.insights.figures import Figure

# Figures are kept this long at most; any change to the index counts them again at once.
FIGURES_SECONDS = 600


def scope_of(filters: Filters) -> Filters:
    """The gallery's filters that narrow the insights (dates, tool, style, designer, run,
    inputs); the others (status, rating, reason, search, paging) are the figures' own."""
    return replace(filters, statuses=(), rating="", reason="", q="", page=1, limit=20, mine=False)


def in_whole_days(scope: Filters) -> Filters:
    """The scope with a period that moves with the clock as whole days ("last 7 days":
    today and the 6 days before): each week's bar links to the gallery by dates, which
    can then hold the week within the range exactly, as the bar counts it."""
    days = {"today": 1, **history.PERIOD_DAYS}.get(scope.period)
    if days is None:
        return scope
    return replace(scope, period="custom", date_from=timezone.localdate() - timedelta(days=days - 1), date_to=None)


def all_figures(scope: Filters, known: Catalogue) -> list[Figure]:
    rows = history.matching(scope, None)
    # Counted once for two figures each: every pass over 100,000 results costs SQLite 20 to 100 ms.
    totals = queries.by_tool_and_style(rows)
    weekly = queries.by_week(rows, figures.weeks_since(scope))
    return [
        *figures.keep_figures(rows, scope, known, totals, weekly),
        figures.input_figure(rows, scope),
        figures.reasons_figure(rows, scope, known),
        figures.time_figure(rows, scope, known, weekly),
        figures.jobs_per_keeper_figure(scope, known, totals),
    ]


def figures_key(scope: Filters) -> str | None:
    """The figures' cache key while the index is unchanged: the index's version
    (SyncState.version, which index.services.note_change bumps with every change, in the
    same transaction, and which every web process reads alike, unlike a counter kept in
    one process's memory), the scope, and the time range as it reads now ("last 7 days"
    moves with the clock). None before the sync's first run: nothing marks a change then."""
    version = index.version()
    if version is None:
        return None
    scope = in_whole_days(scope)
    start, end = scope.time_range
    wanted = f"{scope.query()}&start={start}&end={end}"
    return f"insights:{version}:{hashlib.sha256(wanted.encode()).hexdigest()[:32]}"


def cached_figures(scope: Filters, known: Catalogue, key: str | None = None) -> list[Figure]:
    """The figures, from the cache under `figures_key` (counted each time without one)."""
    key = key or figures_key(scope)
    scope = in_whole_days(scope)
    if key is None:
        return all_figures(scope, known)
    found = cache.get(key)
    if found is None:
        found = all_figures(scope, known)
        cache.set(key, found, FIGURES_SECONDS)
    return found


class LazyFigures:
    """The figures, counted (or read from the cache) only when a template first reads
    them: a page whose drawn figures are cached (insights.html's {% cache %}, under
    the same key) needs neither."""

    def __init__(self, scope: Filters, known: Catalogue, key: str | None) -> None:
        self.scope, self.known, self.key = scope, known, key
        self.found: list[Figure] | None = None

    def __iter__(self):
        if self.found is None:
            self.found = cached_figures(self.scope, self.known, self.key)
        return iter(self.found)


def figure_named(scope: Filters, known: Catalogue, slug: str) -> Figure | None:
    return next((figure for figure in cached_figures(scope, known) if figure.slug == slug), None)
