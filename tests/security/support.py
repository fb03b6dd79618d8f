"""What the security tests share: the URLconf as data, and reading whole responses.

Every test here walks the URLconf itself rather than a hand-made list of URLs, so a view
added later is covered (or makes a test fail until it is classified in `METHODS`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter, SlugConverter, StringConverter

from dashboard.urls import InputVariantConverter, ResultKindConverter, SlotNameConverter

HTMX = {"HX-Request": "true"}

# The HTTP methods each named view answers; every other method must get 405.
# A URL name missing here fails `test_every_url_is_classified`.
METHODS: dict[str, frozenset[str]] = {
    "home": frozenset({"GET", "POST"}),
    "add_photo": frozenset({"POST"}),
    "tray": frozenset({"GET"}),
    "rerun": frozenset({"POST"}),
    "feedback": frozenset({"POST"}),
    "review": frozenset({"POST"}),
    "result_image": frozenset({"GET"}),
    "input_image": frozenset({"GET"}),
    "style_preview": frozenset({"GET"}),
    "healthz": frozenset({"GET"}),
    "events": frozenset({"GET"}),
    # Django's FormView answers PUT as it answers POST (CSRF still guards both).
    "login": frozenset({"GET", "POST", "PUT"}),
    "logout": frozenset({"POST"}),
    "history": frozenset({"GET"}),
    "history_poll": frozenset({"GET"}),
    "history_news": frozenset({"GET"}),
    "history_bulk": frozenset({"POST"}),
    "history_download": frozenset({"POST"}),
    "run_download": frozenset({"GET"}),
    "history_compare": frozenset({"GET"}),
    "run_heatmap_csv": frozenset({"GET"}),
    "insights": frozenset({"GET"}),
    "metrics": frozenset({"GET"}),
    "insights_csv": frozenset({"GET"}),
    "history_item": frozenset({"GET"}),
    "history_delete": frozenset({"POST"}),
    "history_restore": frozenset({"POST"}),
    "history_rerun": frozenset({"POST"}),
    "trash": frozenset({"GET"}),
    "trash_restore": frozenset({"POST"}),
    "trash_empty": frozenset({"POST"}),
    "trash_delete": frozenset({"POST"}),
    "library": frozenset({"GET"}),
    "library_add": frozenset({"POST"}),
    "library_pick": frozenset({"GET"}),
    # GET draws one card (open for editing with ?edit=1); POST changes the image.
    "library_image": frozenset({"GET", "POST"}),
    "runs": frozenset({"GET"}),
    "new_run": frozenset({"GET", "POST"}),
    "run_picker": frozenset({"GET"}),
    "run": frozenset({"GET"}),
    "run_poll": frozenset({"GET"}),
    "run_cancel": frozenset({"POST"}),
    "run_retry": frozenset({"POST"}),
    "run_rename": frozenset({"POST"}),
}
# Views a visitor may use without logging in.
# /metrics is guarded by its own bearer token (METRICS_TOKEN) rather than a login: 404
# without the setting, 401 without the token (tests/observability/).
PUBLIC = frozenset({"login", "healthz", "metrics"})
# Views that change something (upstream, the database or the session).
CHANGING = frozenset(name for name, methods in METHODS.items() if "POST" in methods)


@dataclass(frozen=True)
class Route:
    name: str
    pattern: URLPattern
    converters: dict[str, Any]

    @property
    def methods(self) -> frozenset[str]:
        return METHODS[self.name]

    @property
    def takes_id(self) -> bool:
        """Whether a part of the path is an id a browser can choose freely."""
        return any(type(c) in (StringConverter, IntConverter) for c in self.converters.values())


def routes() -> list[Route]:
    """Every URL pattern of the project, nested includes flattened, with its converters.

    Django's admin is left out: its views are Django's own, behind `is_staff`, and its
    access rules are tested where they are set (tests/accounts/)."""

    def walk(entries, namespace: str, converters: dict[str, Any]) -> Iterator[Route]:
        for entry in entries:
            found = {**converters, **getattr(entry.pattern, "converters", {})}
            if isinstance(entry, URLResolver) and entry.app_name == "admin":
                continue  # Django's admin, staff only: tests/accounts/test_admin.py
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                yield from walk(entry.url_patterns, inner, found)
            elif isinstance(entry, URLPattern):
                yield Route(name=f"{namespace}{entry.name}" if entry.name else "", pattern=entry, converters=found)

    return list(walk(get_resolver().url_patterns, "", {}))


@dataclass
class Ids:
    """Real values for every kind of URL argument."""

    items: list[str]  # history item ids: complete, failed, running, unknown...
    input_pks: list[int]
    tool: str
    style_id: str
    # Matrix runs (a run's id is a number a browser can choose freely, like an input's).
    run_ids: list[int] = field(default_factory=list)


def kwargs_for(route: Route, ids: Ids) -> list[dict[str, Any]]:
    """Every combination of real arguments for one route (a single {} when it takes none)."""
    choices: dict[str, list[Any]] = {}
    for name, converter in route.converters.items():
        kind = type(converter)
        if kind is ResultKindConverter:
            choices[name] = ["preview", "stock"]
        elif kind is InputVariantConverter:
            choices[name] = ["file", "thumbnail", "download"]
        elif kind is SlotNameConverter:
            choices[name] = ["person"]
        elif kind is IntConverter and name == "run_id":
            choices[name] = list(ids.run_ids) or [987654]  # a run that does not exist
        elif kind is IntConverter:
            choices[name] = list(ids.input_pks)
        elif kind is StringConverter and name == "tool":
            choices[name] = [ids.tool]
        elif kind is StringConverter and name == "style_id":
            choices[name] = [ids.style_id]
        elif kind is StringConverter:
            choices[name] = list(ids.items)
        elif kind is SlugConverter and name == "slug":  # an insights figure: one drawn, one there is not
            choices[name] = ["keep-by-tool", "no-such-figure"]
        else:
            raise AssertionError(f"{route.name}: no test values for converter {kind.__name__} ({name})")
    names = list(choices)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(choices[n] for n in names))]


def url_with(route: Route, raw: dict[str, str], fixed: dict[str, Any]) -> str:
    """The route's URL with some arguments inserted raw (already quoted), bypassing `reverse`'s checks."""
    placeholders = {name: f"PLACEHOLDER{index}X" for index, name in enumerate(raw)}
    placeholder_kwargs = {
        name: (str(1234567 + index) if type(route.converters[name]) is IntConverter else value)
        for index, (name, value) in enumerate(placeholders.items())
    }
    url = reverse(route.name, kwargs={**fixed, **placeholder_kwargs})
    for name, value in raw.items():
        marker = placeholder_kwargs[name]
        assert url.count(marker) == 1, (route.name, url, marker)
        url = url.replace(marker, value)
    return url


def body_of(response) -> bytes:
    if getattr(response, "streaming", False):
        # The test client closes the response (and its file) once this is consumed.
        return b"".join(response.streaming_content)
    return response.content


def header_values(response) -> list[str]:
    values = [f"{name}: {value}" for name, value in response.items()]
    values.extend(morsel.OutputString() for morsel in response.cookies.values())
    return values


# Paths of the generation API's own endpoints; anything else in the simulator's log is a
# request the dashboard should never have made (ids are validated before they are sent).
API_PATH = re.compile(
    r"^/(generation/tools|generation/generationTypes|generation/generate_image_v2/"
    r"|user/generation-history(/feedback)?(/[A-Za-z0-9_-]{1,128})?|image/[A-Za-z0-9_./-]+|openapi\.json)$"
)


def stray_paths(entries: list[dict[str, Any]]) -> list[str]:
    return [
        entry["path"] for entry in entries if not API_PATH.fullmatch(entry["path"]) or ".." in entry["path"].split("/")
    ]
