"""Diagnostics: is the upstream reachable, is the key accepted, and does its OpenAPI
document offer every endpoint and field the dashboard relies on?"""

import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dashboard import genapi

# (method, path template, fields the dashboard reads from the success response)
USED_ENDPOINTS: list[tuple[str, str, set[str]]] = [
    ("get", "/generation/tools", {"tool", "title", "group_tool"}),
    ("get", "/generation/generationTypes", {"id", "title"}),
    ("post", "/generation/generate_image_v2/", {"history_item_id"}),
    ("get", "/user/generation-history/{id}", {"id", "status"}),
    ("get", "/user/generation-history", {"items", "pages", "id", "status", "preview_url", "stock_url", "like"}),
    ("patch", "/user/generation-history/feedback/{id}", set()),
    ("delete", "/user/generation-history/{id}", set()),
]


def _schema_fields(schema: object, doc: Mapping[str, Any], seen: set[str] | None = None) -> set[str]:
    """Every property name reachable from a schema, following $ref, items and combinators."""
    seen = seen if seen is not None else set()
    if not isinstance(schema, Mapping):
        return set()
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if ref in seen or not ref.startswith("#/"):
            return set()
        seen.add(ref)
        target: object = doc
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        return _schema_fields(target, doc, seen)
    names: set[str] = set()
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        names.update(properties)
        for sub in properties.values():
            names |= _schema_fields(sub, doc, seen)
    for key in ("items", "additionalProperties"):
        names |= _schema_fields(schema.get(key), doc, seen)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key) or []:
            names |= _schema_fields(sub, doc, seen)
    return names


def check_openapi(doc: Mapping[str, Any]) -> list[tuple[bool, str]]:
    """(ok, sentence) for each endpoint the dashboard uses, as the upstream documents it."""
    found = doc.get("paths")
    paths: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    # Parameter names differ between backends ({id}, {history_id}...): compare shapes.
    normalised = {re.sub(r"\{[^}]*\}", "{}", p).rstrip("/"): p for p in paths}
    report: list[tuple[bool, str]] = []
    for method, template, fields in USED_ENDPOINTS:
        label = f"{method.upper()} {template}"
        actual = normalised.get(re.sub(r"\{[^}]*\}", "{}", template).rstrip("/"))
        entry = paths.get(actual) if actual else None
        operation = entry.get(method) if isinstance(entry, Mapping) else None
        if not isinstance(operation, Mapping):
            report.append((False, f"{label}: not documented by the upstream."))
            continue
        documented: set[str] = set()
        for code, response in (operation.get("responses") or {}).items():
            if str(code).startswith("2") and isinstance(response, Mapping):
                for media in (response.get("content") or {}).values():
                    documented |= _schema_fields(media.get("schema") if isinstance(media, Mapping) else None, doc)
        missing = sorted(fields - documented) if documented else []
        if missing:
            report.append((False, f"{label}: documented, but its response lacks {', '.join(missing)}."))
        elif fields and not documented:
            report.append((True, f"{label}: documented (its response schema is not, so fields were not checked)."))
        else:
            report.append((True, f"{label}: documented."))
    return report


class Command(BaseCommand):
    help = "Check the generation API: reachability, the API key, and the endpoints the dashboard relies on."

    def handle(self, *args, **options):
        base_url = settings.GENAPI_BASE_URL
        self.stdout.write(f"Generation API at {base_url}")
        if not settings.GENAPI_API_KEY:
            raise CommandError("GENAPI_API_KEY is not set: the dashboard cannot authenticate to the API.")
        api = genapi.client()
        try:
            tools = api.tools()
        except genapi.UpstreamAuthError:
            raise CommandError(
                "The API answered, but it refused the key in GENAPI_API_KEY (401). Check the key."
            ) from None
        except genapi.PlanNotAllowed:
            raise CommandError("The API answered, but the key's plan does not allow listing tools (403).") from None
        except genapi.UpstreamUnavailable as exc:
            raise CommandError(f"The API could not be reached at {base_url}: {exc.message}") from None
        except genapi.GenApiError as exc:
            raise CommandError(f"The API answered with an error: {exc.message}") from None
        self.stdout.write(self.style.SUCCESS(f"Reachable, and the key is accepted ({len(tools)} tools offered)."))

        try:
            doc = api.openapi()
        except genapi.GenApiError as exc:
            self.stdout.write(self.style.WARNING(f"Could not read /openapi.json: {exc.message}"))
            return
        if doc is None:
            self.stdout.write(self.style.WARNING("The API offers no /openapi.json; endpoints were not checked."))
            return
        title = doc.get("info", {}).get("title", "untitled") if isinstance(doc.get("info"), dict) else "untitled"
        self.stdout.write(f"OpenAPI document: {title}")
        problems = 0
        for ok, sentence in check_openapi(doc):
            self.stdout.write(
                (self.style.SUCCESS if ok else self.style.ERROR)(("  ok    " if ok else "  MISS  ") + sentence)
            )
            problems += not ok
        if problems:
            raise CommandError(f"{problems} endpoint(s) the dashboard uses are missing or differ.")
        self.stdout.write(self.style.SUCCESS("Every endpoint the dashboard uses is documented."))
