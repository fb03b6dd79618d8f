"""The HTTP side of the one door: sessions, timeouts, retries, status codes, the seven calls.

Nothing outside genapi imports this module's `requests`; callers get typed values and
errors (genapi.types). Most callers want genapi.cached, which fronts these calls with
the dashboard's shared cache.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import SplitResult, unquote, urljoin, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests_toolbelt.multipart.encoder import MultipartEncoder
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from dashboard.genapi.parsing import (
    ID_PATTERN,
    error_message,
    parse_history_item,
    parse_history_page,
    parse_style,
    parse_tool,
    retry_after_seconds,
    segment,
    text,
    validate_id,
)
from dashboard.genapi.redaction import redact, redact_value
from dashboard.genapi.types import (
    GenApiError,
    HistoryItem,
    HistoryPage,
    JobCreated,
    NotFound,
    PlanNotAllowed,
    RateLimited,
    Status,
    Style,
    Tool,
    UploadFile,
    UpstreamAuthError,
    UpstreamError,
    UpstreamImage,
    UpstreamRejected,
    UpstreamUnavailable,
)

logger = logging.getLogger("dashboard.genapi")

MAX_IMAGE_BYTES = 40 * 1024 * 1024
# A Retry-After longer than this is handed back to the caller instead of slept through,
# so no designer's page waits on a long rate-limit window.
MAX_RETRY_AFTER_SLEEP = 3.0

TIMED_OUT_MESSAGE = "The generation service took too long to answer. Please try again."
# A change (a job, a rating, a delete) that timed out after it was sent may still happen.
TIMED_OUT_WRITE_MESSAGE = (
    "The generation service took too long to answer, so it may or may not have done this. "
    "Check History before trying again."
)
UNREADABLE_MESSAGE = "The generation service sent an answer the dashboard cannot read."
NOT_CONFIRMED_MESSAGE = (
    "The generation service accepted this but has not confirmed it was done. "
    "Reload in a moment to see whether it was."
)
NOT_DONE_MESSAGE = "The generation service answered that it did not do this."


def _read_timed_out(error: requests.ConnectionError) -> bool:
    """Whether a ConnectionError is really read timeouts that exhausted urllib3's retries."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, ReadTimeoutError)




def _origin_of(parts: SplitResult) -> tuple[str, str | None, int | None]:
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, parts.hostname, parts.port or default_port


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
        # What went wrong with the last call of the request this thread is serving
        # (unreachable, key refused), for the page's banner; reset as each request starts
        # (apps.py), so one designer's failure is never shown on another's page.
        self._problem = threading.local()

    @property
    def last_problem(self) -> str | None:
        return getattr(self._problem, "message", None)

    @last_problem.setter
    def last_problem(self, message: str | None) -> None:
        self._problem.message = message

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
                    # A read that timed out is not tried again: the upstream took the
                    # request and is slow, and a page would wait a timeout per try.
                    read=0,
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

    def _request(self, method: str, path: str, **options: Any) -> requests.Response:
        """One call, with typed errors for failures; options are `_send`'s."""
        response = self._send(method, path, **options)
        if response.status_code == 429 and method == "GET":
            # Reads may wait out a short rate-limit window once; a long one goes back
            # to the designer as a message rather than a page that hangs.
            wait = retry_after_seconds(response.headers.get("Retry-After"))
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
            # Method, path, status and latency only: never the key, never bodies. Image
            # paths come from the upstream, so they are redacted like its bodies.
            path = redact(urlsplit(url).path.lstrip("/"), self._api_key)
            logger.info("genapi %s /%s %s %.1fms", method, path, status, (time.perf_counter() - started) * 1000)

    def _raise_for(self, response: requests.Response) -> None:
        code = response.status_code
        try:
            body = self._read_json(response)
        except ValueError:
            body = None
        message, fields = error_message(body)
        message = message[:300] if message else None
        fields = {name: [m[:300] for m in msgs] for name, msgs in fields.items()}
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
            raise RateLimited(retry_after=retry_after_seconds(response.headers.get("Retry-After")))
        if code in (400, 413, 422) or 400 <= code < 500:
            raise UpstreamRejected(message, field_errors=fields, status=code)
        raise UpstreamError(status=code)

    def _read_json(self, response: requests.Response) -> object:
        """The body as JSON with the key taken out of every string in it (the one place
        upstream text enters the dashboard); ValueError when it is not JSON."""
        return redact_value(response.json(), self._api_key)

    def _json(self, response: requests.Response) -> object:
        try:
            return self._read_json(response)
        except ValueError as exc:
            raise UpstreamError(UNREADABLE_MESSAGE) from exc

    def _expect_done(self, response: requests.Response) -> None:
        """A change's answer, whose body the contract leaves open, must still say it was
        done: not an HTML page (a proxy or another server answering), not JSON cut short,
        not 202 (accepted for later), and not a body that says it failed."""
        try:
            if response.status_code == 202:
                raise UpstreamError(NOT_CONFIRMED_MESSAGE, status=202)
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if media_type in ("text/html", "application/xhtml+xml"):
                raise UpstreamError(UNREADABLE_MESSAGE, status=response.status_code)
            if (media_type == "application/json" or media_type.endswith("+json")) and response.content.strip():
                body = self._json(response)
                if isinstance(body, Mapping) and any(body.get(flag) is False for flag in ("success", "deleted", "ok")):
                    message, _ = error_message(body)
                    raise UpstreamError(message or NOT_DONE_MESSAGE, status=response.status_code)
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

    def styles(self, tool: str) -> list[Style]:
        validate_id(tool)
        body = self._json(self._request("GET", "generation/generationTypes", params={"tool": tool}))
        if isinstance(body, Mapping):
            body = next((v for k in ("items", "generation_types", "data") if isinstance(v := body.get(k), list)), [])
        if not isinstance(body, list):
            return []
        return [gt for raw in body if (gt := parse_style(raw, tool)) is not None]

    def create_job(self, tool: str, files: list[UploadFile], *, style_id: str | None = None) -> JobCreated:
        validate_id(tool)
        fields: list[tuple[str, Any]] = [("tool", tool)]
        if style_id:
            fields.append(("generation_type", validate_id(style_id)))
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
        job_id = text(body.get("history_item_id")) or text(body.get("id"))
        if not job_id or not ID_PATTERN.fullmatch(job_id):
            raise UpstreamError("The generation service accepted the job but sent no usable job id.")
        return JobCreated(
            history_item_id=job_id,
            preview_path=text(body.get("preview_image")),
            stock_path=text(body.get("stock_image")),
        )

    def history_item(self, item_id: str) -> HistoryItem:
        body = self._json(self._request("GET", f"user/generation-history/{segment(item_id)}"))
        if isinstance(body, Mapping) and isinstance(body.get("item"), Mapping):
            body = body["item"]
        item = parse_history_item(body)
        if item is None:
            raise UpstreamError("The generation service sent a record the dashboard cannot read.")
        return item

    def history(
        self,
        *,
        page: int = 1,
        limit: int = 20,
        statuses: Iterable[str] = (),
        style_id: str | None = None,
    ) -> HistoryPage:
        page = max(1, int(page))
        limit = min(100, max(1, int(limit)))
        params: list[tuple[str, Any]] = [("page", page), ("limit", limit)]
        if style_id:
            # The upstream filters by style id (or tool name) under this name.
            params.append(("generation_type", validate_id(style_id)))
        if isinstance(statuses, str):
            statuses = [statuses]
        wanted = dict.fromkeys(status.lower() for status in statuses if isinstance(status, str))
        params.extend(("status", status) for status in wanted if status in Status.values)
        body = self._json(self._request("GET", "user/generation-history", params=params))
        return parse_history_page(body, page=page, limit=limit)

    def set_feedback(self, item_id: str, like: bool) -> None:
        # The response body is undocumented: it is not used, only checked to be the API's.
        self._expect_done(
            self._request("PATCH", f"user/generation-history/feedback/{segment(item_id)}", json={"like": bool(like)})
        )

    def delete(self, item_id: str) -> None:
        self._expect_done(self._request("DELETE", f"user/generation-history/{segment(item_id)}"))

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
        try:
            if _origin_of(resolved) != _origin_of(self._origin):
                return None
        except ValueError:  # a port that is no port (":99999", ":x")
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


