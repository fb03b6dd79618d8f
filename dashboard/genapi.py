"""The one door to the generation API.

Everything that knows the upstream's URLs, headers, status codes and JSON shapes lives
here. Views get plain typed values (`Tool`, `GenerationType`, `HistoryItem`,
`HistoryPage`, `JobCreated`, `UpstreamImage`) and typed errors (subclasses of
`GenApiError`), and never import `requests`.

What the contract leaves open (see shared/api-contract.md) is read tolerantly: bare
lists or envelopes, ids as strings or integers, relative image paths with or without a
leading slash, unknown statuses as "still running", extra fields kept.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import SplitResult, quote, unquote, urljoin, urlsplit

import requests
from django.conf import settings
from django.core.cache import cache
from requests.adapters import HTTPAdapter
from requests_toolbelt.multipart.encoder import MultipartEncoder
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

logger = logging.getLogger("dashboard.genapi")

STATUSES = ("pending", "complete", "error")
# Ids travel through the browser and back; only this shape may become a path segment.
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_IMAGE_BYTES = 40 * 1024 * 1024
# A Retry-After longer than this is handed back to the caller instead of slept through,
# so no designer's page waits on a long rate-limit window.
MAX_RETRY_AFTER_SLEEP = 3.0
CATALOGUE_CACHE_SECONDS = 300


# --- Typed values -------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    name: str
    title: str
    group: str


@dataclass(frozen=True)
class GenerationType:
    id: str
    title: str
    tool: str
    preview_path: str | None = None
    brand_url: str | None = None


@dataclass(frozen=True)
class HistoryItem:
    id: str
    status: str  # one of STATUSES; anything unknown upstream reads as "pending"
    raw_status: str
    generation_type: str | None
    created_at: datetime | None
    preview_path: str | None
    stock_path: str | None
    like: bool | None
    error_message: str | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_pending(self) -> bool:
        return self.status == "pending"

    @property
    def is_complete(self) -> bool:
        return self.status == "complete"

    @property
    def is_error(self) -> bool:
        return self.status == "error"


@dataclass(frozen=True)
class HistoryPage:
    items: list[HistoryItem]
    page: int
    limit: int
    pages: int
    total_count: int | None

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


@dataclass(frozen=True)
class JobCreated:
    history_item_id: str
    preview_path: str | None
    stock_path: str | None


@dataclass(frozen=True)
class UpstreamImage:
    content: bytes
    content_type: str


@dataclass(frozen=True)
class UploadFile:
    """One image for a job: the form field (slot) it goes in and an open binary file."""

    slot: str
    filename: str
    fileobj: IO[bytes]
    content_type: str


# --- Typed errors -------------------------------------------------------------------


class GenApiError(Exception):
    """Base of every upstream failure; `message` is safe to show to a designer."""

    default_message = "The generation service failed unexpectedly."

    def __init__(self, message: str | None = None, *, status: int | None = None):
        self.message = message or self.default_message
        self.status = status
        super().__init__(self.message)


class UpstreamUnavailable(GenApiError):
    default_message = "The generation service cannot be reached right now. Please try again in a moment."


class UpstreamAuthError(GenApiError):
    default_message = (
        "The dashboard's API key was refused by the generation service. "
        "This is a configuration problem: an administrator needs to check GENAPI_API_KEY."
    )


class PlanNotAllowed(GenApiError):
    default_message = "The account's plan does not allow this operation."


class NotFound(GenApiError):
    default_message = "This item no longer exists."


class InvalidId(NotFound):
    """An id that is not a plausible upstream id: never sent upstream at all."""

    default_message = "This item does not exist."


class RateLimited(GenApiError):
    default_message = "The generation service is busy. Please wait a moment and try again."

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, status: int = 429):
        super().__init__(message, status=status)
        self.retry_after = retry_after


class UpstreamRejected(GenApiError):
    """400 or 422: the upstream refused the request; `field_errors` maps form fields to messages."""

    default_message = "The generation service refused the request."

    def __init__(self, message: str | None = None, *, field_errors: dict[str, list[str]] | None = None, status: int | None = None):
        super().__init__(message, status=status)
        self.field_errors = field_errors or {}


class UpstreamError(GenApiError):
    default_message = "The generation service had a problem processing the request. Please try again."


# --- Helpers --------------------------------------------------------------------------


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


def _origin_of(parts: SplitResult) -> tuple[str, str | None, int | None]:
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, parts.hostname, parts.port or default_port


def _segment(item_id: object) -> str:
    return quote(validate_id(item_id), safe="")


def _parse_datetime(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = str(value).strip()
        return text or None
    return None


TIMED_OUT_MESSAGE = "The generation service took too long to answer. Please try again."
# A change (a job, a rating, a delete) that timed out after it was sent may still happen.
TIMED_OUT_WRITE_MESSAGE = (
    "The generation service took too long to answer, so it may or may not have done this. "
    "Check History before trying again."
)
UNREADABLE_MESSAGE = "The generation service sent an answer the dashboard cannot read."


def _read_timed_out(error: requests.ConnectionError) -> bool:
    """Whether a ConnectionError is really read timeouts that exhausted urllib3's retries."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, ReadTimeoutError)


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


# --- Reading the tolerant shapes ------------------------------------------------------


def parse_tool(raw: object) -> Tool | None:
    if not isinstance(raw, Mapping):
        return None
    name = _text(raw.get("tool"))
    if not name:
        return None
    title = _text(raw.get("title")) or name.replace("_", " ").title()
    group = _text(raw.get("group_tool")) or "default"
    return Tool(name=name, title=title, group=group)


def parse_generation_type(raw: object, tool: str) -> GenerationType | None:
    if not isinstance(raw, Mapping):
        return None
    type_id = _text(raw.get("id") if "id" in raw else raw.get("_id"))
    if not type_id:
        return None
    return GenerationType(
        id=type_id,
        title=_text(raw.get("title")) or _text(raw.get("name")) or type_id,
        tool=tool,
        preview_path=_text(raw.get("preview_url")),
        brand_url=_text(raw.get("brand_url")),
    )


KNOWN_ITEM_FIELDS = {"id", "status", "generation_type", "created_at", "preview_url", "stock_url", "like"}


def parse_history_item(raw: object) -> HistoryItem | None:
    if not isinstance(raw, Mapping):
        return None
    item_id = _text(raw.get("id"))
    if item_id is None and "_id" in raw:
        item_id = _text(raw.get("_id"))
    if item_id is None:
        return None
    raw_status = _text(raw.get("status")) or "pending"
    status = raw_status.lower()
    if status not in STATUSES:
        status = "pending"
    like = raw.get("like")
    error_message = None
    if status == "error":
        for key in ("error", "error_message", "message", "detail"):
            error_message = _text(raw.get(key))
            if error_message:
                break
    return HistoryItem(
        id=item_id,
        status=status,
        raw_status=raw_status,
        generation_type=_text(raw.get("generation_type")),
        created_at=_parse_datetime(raw.get("created_at")),
        preview_path=_text(raw.get("preview_url")),
        stock_path=_text(raw.get("stock_url")),
        like=like if isinstance(like, bool) else None,
        error_message=error_message,
        extra={key: value for key, value in raw.items() if key not in KNOWN_ITEM_FIELDS},
    )


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

    def as_int(key: str) -> int | None:
        value = envelope.get(key)
        if isinstance(value, bool):
            return None
        try:
            return int(value) if value is not None else None  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None

    total = as_int("total_count")
    if total is None:
        total = as_int("total")
    pages = as_int("pages")
    if pages is None and total is not None:
        pages = math.ceil(total / limit) if limit else 1
    if pages is None:
        # A bare list says nothing about what follows: a full page suggests more.
        pages = page + 1 if len(items) >= limit else page
    current = as_int("page") or page
    return HistoryPage(items=items, page=current, limit=limit, pages=max(pages, 0), total_count=total)


def _error_message(response: requests.Response) -> tuple[str | None, dict[str, list[str]]]:
    """The upstream's human message and any per-field errors, from FastAPI-style bodies."""
    try:
        body = response.json()
    except ValueError:
        return None, {}
    if not isinstance(body, Mapping):
        return None, {}
    detail = body.get("detail")
    if isinstance(detail, list):
        fields: dict[str, list[str]] = {}
        general: list[str] = []
        for entry in detail:
            if not isinstance(entry, Mapping):
                continue
            msg = _text(entry.get("msg")) or "Invalid value."
            loc = entry.get("loc")
            name = None
            if isinstance(loc, list):
                names = [str(part) for part in loc if not isinstance(part, int) and part not in ("body", "query", "path", "header")]
                name = names[-1] if names else None
            if name:
                fields.setdefault(name, []).append(msg)
            else:
                general.append(msg)
        return ("; ".join(general) or None), fields
    for key in ("detail", "message", "error"):
        message = _text(body.get(key))
        if message:
            return message, {}
    return None, {}


# --- The client -----------------------------------------------------------------------


class GenApiClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 15.0,
        upload_timeout: float = 60.0,
        read_retries: int = 2,
    ):
        self.base_url = base_url.rstrip("/") + "/"
        self._origin = urlsplit(self.base_url)
        self._api_key = api_key
        self._timeout = (connect_timeout, read_timeout)
        self._upload_timeout = (connect_timeout, upload_timeout)
        self._read_retries = read_retries
        # requests.Session is not documented as thread-safe: one pair per thread.
        self._local = threading.local()
        # What went wrong with the last call in this process (unreachable, key refused),
        # so every page can show a banner without an upstream call of its own.
        self.last_problem: str | None = None

    # Sessions: reads retry (GET only, 429 and 5xx, with backoff); writes never do,
    # because a retried job creation can start, and bill, a second job.
    def _session(self, *, for_reads: bool) -> requests.Session:
        name = "reads" if for_reads else "writes"
        session = getattr(self._local, name, None)
        if session is None:
            session = requests.Session()
            if for_reads:
                # 429 is handled in _request, where a long Retry-After can be refused.
                retry = Retry(
                    total=self._read_retries,
                    connect=self._read_retries,
                    read=self._read_retries,
                    status=self._read_retries,
                    backoff_factor=0.25,
                    status_forcelist=(500, 502, 503, 504),
                    allowed_methods=frozenset({"GET"}),
                    # Never let urllib3 sleep through a Retry-After (it would wait out
                    # a 429's or 503's full window, uncapped): _request caps that wait.
                    respect_retry_after_header=False,
                    raise_on_status=False,
                    redirect=False,
                )
            else:
                retry = Retry(total=0, connect=0, read=0, redirect=False, status=0, raise_on_status=False)
            adapter = HTTPAdapter(max_retries=retry, pool_connections=2, pool_maxsize=16)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers.update({"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"})
            session.trust_env = False
            setattr(self._local, name, session)
        return session

    def redact(self, text: str) -> str:
        """Remove the key (and any Authorization value) from text an upstream sent back."""
        if self._api_key:
            text = text.replace(self._api_key, "[redacted]")
        return re.sub(r"(?i)(bearer\s+)\S+", r"\1[redacted]", text)

    def _redact_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {self._redact_value(key): self._redact_value(inner) for key, inner in value.items()}
        if isinstance(value, list):
            return [self._redact_value(inner) for inner in value]
        return value

    def _redact_item(self, item: HistoryItem) -> HistoryItem:
        """A record's free text (error message, unknown fields) is shown to designers as
        the upstream sent it: the key it may echo is removed like from error bodies."""
        return replace(
            item,
            raw_status=self.redact(item.raw_status),
            generation_type=self._redact_value(item.generation_type),
            error_message=self._redact_value(item.error_message),
            extra=self._redact_value(item.extra),
        )

    def _request(self, method: str, path: str, **options: Any) -> requests.Response:
        """One call, with typed errors for failures; options are `_send`'s."""
        response = self._send(method, path, **options)
        if response.status_code == 429 and method == "GET":
            # Reads may wait out a short rate-limit window once; a long one goes back
            # to the designer as a message rather than a page that hangs.
            wait = _retry_after_seconds(response)
            if wait is not None and wait <= MAX_RETRY_AFTER_SLEEP:
                response.close()
                time.sleep(wait)
                response = self._send(method, path, **options)
        if response.status_code >= 300:
            self._raise_for(response)
        return response

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json: object = None,
        data: object = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: tuple[float, float] | None = None,
    ) -> requests.Response:
        url = urljoin(self.base_url, path.lstrip("/"))
        started = time.perf_counter()
        status: int | str = "-"
        try:
            response = self._session(for_reads=method == "GET").request(
                method,
                url,
                params=params,
                json=json,
                data=data,
                headers=headers,
                stream=stream,
                timeout=timeout or self._timeout,
                allow_redirects=False,
            )
            status = response.status_code
            self.last_problem = UpstreamAuthError.default_message if status == 401 else None
            return response
        except requests.Timeout as exc:
            status = "timeout"
            self.last_problem = UpstreamUnavailable.default_message
            sent = method != "GET" and not isinstance(exc, requests.ConnectTimeout)
            raise UpstreamUnavailable(TIMED_OUT_WRITE_MESSAGE if sent else TIMED_OUT_MESSAGE) from exc
        except requests.exceptions.RetryError as exc:
            status = "retries-exhausted"
            raise UpstreamError() from exc
        except requests.ConnectionError as exc:
            if _read_timed_out(exc):
                # Read timeouts that used up urllib3's retries: requests reports them as a
                # connection error, but the service took the request and answered slowly.
                status = "timeout"
                self.last_problem = UpstreamUnavailable.default_message
                raise UpstreamUnavailable(TIMED_OUT_MESSAGE if method == "GET" else TIMED_OUT_WRITE_MESSAGE) from exc
            status = "unreachable"
            self.last_problem = UpstreamUnavailable.default_message
            raise UpstreamUnavailable() from exc
        except requests.RequestException as exc:
            status = "failed"
            raise UpstreamError() from exc
        finally:
            # Method, path, status and latency only: never the key, never bodies.
            logger.info(
                "genapi %s /%s %s %.1fms", method, urlsplit(url).path.lstrip("/"), status, (time.perf_counter() - started) * 1000
            )

    def _raise_for(self, response: requests.Response) -> None:
        code = response.status_code
        message, fields = _error_message(response)
        if message:
            message = self.redact(message)[:300]
        fields = {name: [self.redact(m)[:300] for m in msgs] for name, msgs in fields.items()}
        response.close()
        if 300 <= code < 400:
            raise UpstreamError("The generation service answered with an unexpected redirect.", status=code)
        if code == 401:
            raise UpstreamAuthError(status=code)
        if code == 403:
            raise PlanNotAllowed(
                f"The account's plan does not allow this: {message}" if message else None, status=code
            )
        if code == 404:
            raise NotFound(status=code)
        if code == 429:
            raise RateLimited(retry_after=_retry_after_seconds(response))
        if code in (400, 413, 422) or 400 <= code < 500:
            raise UpstreamRejected(message, field_errors=fields, status=code)
        raise UpstreamError(status=code)

    def _json(self, response: requests.Response) -> object:
        try:
            return response.json()
        except ValueError as exc:
            raise UpstreamError(UNREADABLE_MESSAGE) from exc

    def _expect_api_answer(self, response: requests.Response) -> None:
        """A success whose body is not read must still come from the API: an HTML page
        (a proxy or another server answering) or JSON cut short means the change is not
        known to have happened. Any other body is fine (the contract leaves it open)."""
        try:
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if media_type in ("text/html", "application/xhtml+xml"):
                raise UpstreamError(UNREADABLE_MESSAGE, status=response.status_code)
            if (media_type == "application/json" or media_type.endswith("+json")) and response.content.strip():
                self._json(response)
        finally:
            response.close()

    # -- The seven calls -----------------------------------------------------------

    def tools(self) -> list[Tool]:
        body = self._json(self._request("GET", "generation/tools"))
        if isinstance(body, Mapping):
            # No list inside: an error, not an empty catalogue (which would be cached).
            body = next((v for k in ("items", "tools", "data") if isinstance(v := body.get(k), list)), None)
        if not isinstance(body, list):
            raise UpstreamError("The generation service sent an unexpected list of tools.")
        return [tool for raw in body if (tool := parse_tool(raw)) is not None]

    def generation_types(self, tool: str) -> list[GenerationType]:
        validate_id(tool)
        body = self._json(self._request("GET", "generation/generationTypes", params={"tool": tool}))
        if isinstance(body, Mapping):
            body = next((v for k in ("items", "generation_types", "data") if isinstance(v := body.get(k), list)), [])
        if not isinstance(body, list):
            return []
        return [gt for raw in body if (gt := parse_generation_type(raw, tool)) is not None]

    def create_job(self, tool: str, files: list[UploadFile], *, generation_type: str | None = None) -> JobCreated:
        validate_id(tool)
        fields: list[tuple[str, Any]] = [("tool", tool)]
        if generation_type:
            fields.append(("generation_type", validate_id(generation_type)))
        for upload in files:
            upload.fileobj.seek(0)
            fields.append((upload.slot, (upload.filename, upload.fileobj, upload.content_type)))
        # Streamed: the encoder reads each file in chunks as the socket takes them.
        encoder = MultipartEncoder(fields=fields)
        response = self._request(
            "POST",
            "generation/generate_image_v2/",
            data=encoder,
            headers={"Content-Type": encoder.content_type},
            timeout=self._upload_timeout,
        )
        body = self._json(response)
        if not isinstance(body, Mapping):
            raise UpstreamError("The generation service accepted the job but sent no job id.")
        job_id = _text(body.get("history_item_id")) or _text(body.get("id"))
        if not job_id or not ID_PATTERN.fullmatch(job_id):
            raise UpstreamError("The generation service accepted the job but sent no usable job id.")
        return JobCreated(
            history_item_id=job_id,
            preview_path=_text(body.get("preview_image")),
            stock_path=_text(body.get("stock_image")),
        )

    def history_item(self, item_id: str) -> HistoryItem:
        body = self._json(self._request("GET", f"user/generation-history/{_segment(item_id)}"))
        if isinstance(body, Mapping) and isinstance(body.get("item"), Mapping):
            body = body["item"]
        item = parse_history_item(body)
        if item is None:
            raise UpstreamError("The generation service sent a record the dashboard cannot read.")
        return self._redact_item(item)

    def history(
        self,
        *,
        page: int = 1,
        limit: int = 20,
        statuses: Iterable[str] = (),
        generation_type: str | None = None,
    ) -> HistoryPage:
        page = max(1, int(page))
        limit = min(100, max(1, int(limit)))
        params: list[tuple[str, Any]] = [("page", page), ("limit", limit)]
        if generation_type:
            params.append(("generation_type", validate_id(generation_type)))
        if isinstance(statuses, str):
            statuses = [statuses]
        wanted = dict.fromkeys(status.lower() for status in statuses if isinstance(status, str))
        params.extend(("status", status) for status in wanted if status in STATUSES)
        body = self._json(self._request("GET", "user/generation-history", params=params))
        listing = parse_history_page(body, page=page, limit=limit)
        return replace(listing, items=[self._redact_item(item) for item in listing.items])

    def set_feedback(self, item_id: str, like: bool) -> None:
        # The response body is undocumented: it is not used, only checked to be the API's.
        self._expect_api_answer(
            self._request("PATCH", f"user/generation-history/feedback/{_segment(item_id)}", json={"like": bool(like)})
        )

    def delete(self, item_id: str) -> None:
        self._expect_api_answer(self._request("DELETE", f"user/generation-history/{_segment(item_id)}"))

    # -- Images and diagnostics ----------------------------------------------------

    def image_url(self, path: str | None) -> str | None:
        """The absolute URL of an upstream image, or None unless it stays on the base URL's origin."""
        if not path or not isinstance(path, str) or any(ch in path for ch in "\\\r\n\t"):
            return None
        parts = urlsplit(path)
        if parts.scheme or parts.netloc:
            candidate = path
        else:
            candidate = urljoin(self.base_url, parts.path.lstrip("/"))
        resolved = urlsplit(candidate)
        if _origin_of(resolved) != _origin_of(self._origin):
            return None
        decoded_path = unquote(resolved.path)
        if (
            not resolved.path.startswith(self._origin.path)
            or "/../" in decoded_path + "/"
            or "/./" in decoded_path + "/"
            or resolved.query
        ):
            return None
        return resolved.geturl()

    def fetch_image(self, path: str | None) -> UpstreamImage:
        url = self.image_url(path)
        if url is None:
            raise NotFound("This image is not available.")
        response = self._request("GET", url.removeprefix(self.base_url), stream=True, headers={"Accept": "image/*"})
        try:
            chunks: list[bytes] = []
            received = 0
            for chunk in response.iter_content(64 * 1024):
                received += len(chunk)
                if received > MAX_IMAGE_BYTES:
                    raise UpstreamError("The result image is larger than the dashboard accepts.")
                chunks.append(chunk)
        except requests.RequestException as exc:
            raise UpstreamUnavailable() from exc
        finally:
            response.close()
        return UpstreamImage(content=b"".join(chunks), content_type=response.headers.get("Content-Type", ""))

    def openapi(self) -> dict[str, Any] | None:
        """The upstream's OpenAPI document, or None when it does not offer one."""
        try:
            body = self._json(self._request("GET", "openapi.json"))
        except (NotFound, UpstreamRejected):
            return None
        return body if isinstance(body, dict) else None


# --- Module-level access ----------------------------------------------------------------

_clients: dict[tuple, GenApiClient] = {}
_clients_lock = threading.Lock()


def client() -> GenApiClient:
    """The client for the current settings (tests that override settings get their own)."""
    key = (
        settings.GENAPI_BASE_URL,
        settings.GENAPI_API_KEY,
        settings.GENAPI_CONNECT_TIMEOUT,
        settings.GENAPI_READ_TIMEOUT,
        settings.GENAPI_UPLOAD_TIMEOUT,
        settings.GENAPI_READ_RETRIES,
    )
    with _clients_lock:
        found = _clients.get(key)
        if found is None:
            found = _clients[key] = GenApiClient(
                settings.GENAPI_BASE_URL,
                settings.GENAPI_API_KEY,
                connect_timeout=settings.GENAPI_CONNECT_TIMEOUT,
                read_timeout=settings.GENAPI_READ_TIMEOUT,
                upload_timeout=settings.GENAPI_UPLOAD_TIMEOUT,
                read_retries=settings.GENAPI_READ_RETRIES,
            )
        return found


def cache_key(*parts: str) -> str:
    # Stable across processes, so workers sharing Redis share entries.
    origin = hashlib.sha256(settings.GENAPI_BASE_URL.encode()).hexdigest()[:12]
    return ":".join(("genapi", origin, *parts))


def cached_tools() -> list[Tool]:
    """Tools change rarely: one upstream read per few minutes serves every page."""
    key = cache_key("tools")
    tools = cache.get(key)
    if tools is None:
        tools = client().tools()
        cache.set(key, tools, CATALOGUE_CACHE_SECONDS)
    return tools


def cached_generation_types(tool: str) -> list[GenerationType]:
    key = cache_key("types", validate_id(tool))
    types = cache.get(key)
    if types is None:
        types = client().generation_types(tool)
        cache.set(key, types, CATALOGUE_CACHE_SECONDS)
    return types


# --- Diagnostics: does the upstream's OpenAPI document offer what the dashboard uses? ----

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
    paths = doc.get("paths") if isinstance(doc.get("paths"), Mapping) else {}
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


def cached_item(item_id: str) -> HistoryItem:
    """One history item; finished items are cached (results never change, likes are
    refreshed through `remember_like` when changed here)."""
    key = cache_key("item", validate_id(item_id))
    item = cache.get(key)
    if item is None:
        item = client().history_item(item_id)
        if not item.is_pending:
            cache.set(key, item, settings.GENAPI_ITEM_CACHE_SECONDS)
    return item


def remember_items(items: Iterable[HistoryItem]) -> None:
    """Cache finished items a listing already returned, sparing detail reads later."""
    finished = {cache_key("item", item.id): item for item in items if not item.is_pending and is_valid_id(item.id)}
    if finished:
        cache.set_many(finished, settings.GENAPI_ITEM_CACHE_SECONDS)


def forget_item(item_id: str) -> None:
    if is_valid_id(item_id):
        cache.delete(cache_key("item", item_id))


def peek_item(item_id: str) -> HistoryItem | None:
    """A cached item if there is one, without any upstream call."""
    return cache.get(cache_key("item", item_id)) if is_valid_id(item_id) else None
