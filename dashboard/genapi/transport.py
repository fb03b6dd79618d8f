"""The HTTP side of the one door: sessions, timeouts, retries, status codes, the seven calls.

Nothing outside genapi imports this module's `requests`; callers get typed values and
errors (genapi.types). Most callers want genapi.cached, which fronts these calls with
the dashboard's shared cache.
"""

from __future__ import annotations

import contextlib
import json as json_module
import logging
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import SplitResult, unquote, urljoin, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests_toolbelt.multipart.encoder import MultipartEncoder
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError, NewConnectionError, ProtocolError, ReadTimeoutError
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
    HistoryItem,
    HistoryPage,
    JobCreated,
    NotFound,
    PlanNotAllowed,
    RateLimited,
    Status,
    Style,
    Tool,
    TooLarge,
    UploadFile,
    UpstreamAuthError,
    UpstreamError,
    UpstreamImage,
    UpstreamRejected,
    UpstreamUnavailable,
)
from dashboard.observability import metrics

logger = logging.getLogger("dashboard.genapi")

MAX_IMAGE_BYTES = 40 * 1024 * 1024
# A page of 100 items is about 50 KB: anything near this is not a listing we can use,
# and a 300 MB one held whole took a worker to 658 MB.
MAX_JSON_BYTES = 8 * 1024 * 1024
# An error answer is read this far for its message; the rest is not needed.
MAX_ERROR_BYTES = 64 * 1024
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
    "The generation service accepted this but has not confirmed it was done. Reload in a moment to see whether it was."
)
NOT_DONE_MESSAGE = "The generation service answered that it did not do this."
TOO_LARGE_MESSAGE = "The generation service sent an answer larger than the dashboard accepts."


def _read_timed_out(error: requests.RequestException) -> bool:
    """Whether a ConnectionError is really read timeouts that exhausted urllib3's retries."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, ReadTimeoutError)


def _connection_refused(error: requests.ConnectionError) -> bool:
    """Whether no connection was ever made (refused, no route, name unknown), so the
    request cannot have reached the upstream; a connection reset midway may have."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError | NameResolutionError)


# --- The overall deadline of one call ------------------------------------------------
#
# A read timeout bounds each wait for the next bytes, not the call: an upstream that
# drips a byte every few seconds would hold a worker thread for as long as it likes. So
# every call runs under a deadline, and when it passes a watchdog shuts the call's socket
# down; the blocked read then fails at once. The socket is found through the connection
# that urllib3 used for the request, which records itself here.

_calls = threading.local()


class _Deadline:
    def __init__(self, seconds: float):
        self.expired = False
        self.connection: Any = None
        # Kept apart from the connection: http.client lets go of a connection's socket
        # once the headers are read when the answer ends the connection.
        self.sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sock = self.sock or getattr(self.connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def watch(self, connection: Any) -> None:
        with self._lock:
            if self.expired:
                raise OSError("the deadline for this upstream call has passed")
            self.connection = connection

    def watch_socket(self, sock: socket.socket | None) -> None:
        with self._lock:
            self.sock = sock
        if self.expired and sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> _Deadline:
        _calls.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        _calls.deadline = None


class _WatchedConnection:
    def request(self, *args: Any, **kwargs: Any) -> Any:
        deadline = getattr(_calls, "deadline", None)
        if deadline is not None:
            deadline.watch(self)
        return super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        deadline = getattr(_calls, "deadline", None)
        if deadline is not None:
            deadline.watch_socket(self.sock)  # type: ignore[attr-defined]
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_WatchedConnection, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnection, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _ReadRetry(Retry):
    """The retries of reads. urllib3 files a connection closed with no answer ("connection
    aborted") with read timeouts, which are not tried again. But that is also what a GET
    meets when it is sent on a kept-alive connection just as the upstream closes it as
    idle, and a GET can be sent again: on a new connection, like one refused on connect.
    Not once the call's deadline has passed: the deadline is what closed it."""

    def _is_read_error(self, err: Exception) -> bool:
        if isinstance(err, ProtocolError):
            deadline = getattr(_calls, "deadline", None)
            return deadline is not None and deadline.expired
        return super()._is_read_error(err)


class _TooLarge(Exception):
    pass


@dataclass(frozen=True)
class _Answer:
    """A whole upstream answer, read within the call's deadline and size cap."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def media_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()


def _read_capped(response: requests.Response, limit: int, *, truncate: bool) -> bytes:
    chunks: list[bytes] = []
    received = 0
    for chunk in response.iter_content(64 * 1024):
        received += len(chunk)
        if received > limit:
            if truncate:  # an error page: its first part says enough
                chunks.append(chunk[: limit - (received - len(chunk))])
                break
            raise _TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _copy_capped(response: requests.Response, limit: int, into: BinaryIO) -> None:
    """The body written to `into` piece by piece: a large image never sits whole in memory."""
    received = 0
    for chunk in response.iter_content(64 * 1024):
        received += len(chunk)
        if received > limit:
            raise _TooLarge()
        into.write(chunk)


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
        deadline: float = 30.0,
        upload_deadline: float = 120.0,
    ):
        self.base_url = base_url.rstrip("/") + "/"
        self._origin = urlsplit(self.base_url)
        self._api_key = api_key
        self._timeout = (connect_timeout, read_timeout)
        self._upload_timeout = (connect_timeout, upload_timeout)
        self._read_retries = read_retries
        self._deadline = deadline
        self._upload_deadline = upload_deadline
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
                retry: Retry = _ReadRetry(
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
            adapter.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers.update({"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"})
            session.trust_env = False
            setattr(self._local, name, session)
        return session

    def _request(self, method: str, path: str, **options: Any) -> _Answer:
        """One call, with typed errors for failures; options are `_send`'s."""
        answer = self._send(method, path, **options)
        if answer.status == 429 and method == "GET":
            # Reads may wait out a short rate-limit window once; a long one goes back
            # to the designer as a message rather than a page that hangs.
            wait = retry_after_seconds(answer.headers.get("Retry-After"))
            if wait is not None and wait <= MAX_RETRY_AFTER_SLEEP:
                time.sleep(wait)
                answer = self._send(method, path, **options)
        if answer.status >= 300:
            self._raise_for(answer)
        return answer

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json: object = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: tuple[float, float] | None = None,
        limit: int | None = None,
        into: BinaryIO | None = None,
        within: float | None = None,
    ) -> _Answer:
        """One call; with `into`, a successful answer's body goes there instead of into
        the returned answer (whose body is then empty); `within` shortens its deadline (a
        caller with a deadline of its own, such as a whole archive)."""
        url = urljoin(self.base_url, path.lstrip("/"))
        started = time.perf_counter()
        status: int | str = "-"
        is_upload = data is not None
        seconds = self._upload_deadline if is_upload else self._deadline
        deadline = _Deadline(seconds if within is None else max(0.0, min(seconds, within)))
        try:
            with deadline:
                response = self._session(for_reads=method == "GET").request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    headers=headers,
                    stream=True,  # read below, within the deadline and the size cap
                    timeout=timeout or self._timeout,
                    allow_redirects=False,
                )
                try:
                    status = response.status_code
                    failed = status >= 300
                    if into is not None and not failed:
                        _copy_capped(response, limit or MAX_JSON_BYTES, into)
                        body = b""
                    else:
                        body = _read_capped(
                            response, MAX_ERROR_BYTES if failed else (limit or MAX_JSON_BYTES), truncate=failed
                        )
                finally:
                    response.close()
            self.last_problem = UpstreamAuthError.default_message if status == 401 else None
            return _Answer(status=int(status), headers=response.headers, body=body)
        except _TooLarge:
            status = "too-large"
            raise TooLarge(TOO_LARGE_MESSAGE) from None
        except requests.RequestException as exc:
            timed_out = deadline.expired or isinstance(exc, requests.Timeout) or _read_timed_out(exc)
            if timed_out:
                status = "deadline" if deadline.expired else "timeout"
                self.last_problem = UpstreamUnavailable.default_message
                # A change whose request was sent may still happen upstream.
                never_arrived = isinstance(exc, requests.ConnectTimeout)
                sent = method != "GET" and not never_arrived
                raise UpstreamUnavailable(
                    TIMED_OUT_WRITE_MESSAGE if sent else TIMED_OUT_MESSAGE, never_arrived=never_arrived
                ) from exc
            if isinstance(exc, requests.exceptions.RetryError):
                status = "retries-exhausted"
                raise UpstreamError() from exc
            if isinstance(exc, requests.ConnectionError):
                status = "unreachable"
                self.last_problem = UpstreamUnavailable.default_message
                raise UpstreamUnavailable(never_arrived=_connection_refused(exc)) from exc
            status = "failed"
            raise UpstreamError() from exc
        finally:
            # Method, path, status and latency only: never the key, never bodies. Image
            # paths come from the upstream, so they are redacted like its bodies.
            path = redact(urlsplit(url).path.lstrip("/"), self._api_key)
            seconds = time.perf_counter() - started
            logger.info("genapi %s /%s %s %.1fms", method, path, status, seconds * 1000)
            metrics.upstream_call(method, path.removeprefix(self._origin.path.lstrip("/")), status, seconds)

    def _raise_for(self, answer: _Answer) -> None:
        code = answer.status
        try:
            body = self._read_json(answer)
        except ValueError:
            body = None
        message, fields = error_message(body)
        message = message[:300] if message else None
        fields = {name: [m[:300] for m in msgs] for name, msgs in fields.items()}
        if 300 <= code < 400:
            raise UpstreamError("The generation service answered with an unexpected redirect.", status=code)
        if code == 401:
            raise UpstreamAuthError(status=code)
        if code == 403:
            raise PlanNotAllowed(f"The account's plan does not allow this: {message}" if message else None, status=code)
        if code == 404:
            raise NotFound(status=code)
        if code == 429:
            raise RateLimited(retry_after=retry_after_seconds(answer.headers.get("Retry-After")))
        if code in (400, 413, 422) or 400 <= code < 500:
            raise UpstreamRejected(message, field_errors=fields, status=code)
        raise UpstreamError(status=code)

    def _read_json(self, answer: _Answer) -> object:
        """The body as JSON with the key taken out of every string in it (the one place
        upstream text enters the dashboard); ValueError when it is not JSON."""
        return redact_value(json_module.loads(answer.body), self._api_key)

    def _json(self, answer: _Answer) -> object:
        try:
            return self._read_json(answer)
        except ValueError as exc:
            raise UpstreamError(UNREADABLE_MESSAGE) from exc

    def _expect_done(self, answer: _Answer) -> None:
        """A change's answer, whose body the contract leaves open, must still say it was
        done: not an HTML page (a proxy or another server answering), not JSON cut short,
        not 202 (accepted for later), and not a body that says it failed."""
        if answer.status == 202:
            raise UpstreamError(NOT_CONFIRMED_MESSAGE, status=202)
        if answer.media_type in ("text/html", "application/xhtml+xml"):
            raise UpstreamError(UNREADABLE_MESSAGE, status=answer.status)
        if (answer.media_type == "application/json" or answer.media_type.endswith("+json")) and answer.body.strip():
            body = self._json(answer)
            if isinstance(body, Mapping) and any(body.get(flag) is False for flag in ("success", "deleted", "ok")):
                message, _ = error_message(body)
                raise UpstreamError(message or NOT_DONE_MESSAGE, status=answer.status)

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
        answer = self._request(
            "GET", url.removeprefix(self.base_url), headers={"Accept": "image/*"}, limit=MAX_IMAGE_BYTES
        )
        return UpstreamImage(content=answer.body, content_type=answer.headers.get("Content-Type", ""))

    def download_image(self, path: str | None, into: BinaryIO, *, within: float | None = None) -> str:
        """An upstream image copied into `into` in pieces, under the same deadline and size
        cap as every image read (or the `within` seconds left, when fewer); returns the
        Content-Type the upstream claimed."""
        url = self.image_url(path)
        if url is None:
            raise NotFound("This image is not available.")
        answer = self._request(
            "GET",
            url.removeprefix(self.base_url),
            headers={"Accept": "image/*"},
            limit=MAX_IMAGE_BYTES,
            into=into,
            within=within,
        )
        return answer.headers.get("Content-Type", "")

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
        settings.GENAPI_DEADLINE,
        settings.GENAPI_UPLOAD_DEADLINE,
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
                deadline=settings.GENAPI_DEADLINE,
                upload_deadline=settings.GENAPI_UPLOAD_DEADLINE,
            )
        return found
