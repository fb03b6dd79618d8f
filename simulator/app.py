"""The FastAPI application: the seven Nextry endpoints, result images and control routes.

Cross-cutting behaviour lives in ``GatewayMiddleware`` so every endpoint gets it in the
same order the real service (behind its gateway) would apply it:

    control paths (/_simulator/...) bypass everything
    -> added latency -> auth (401, 403 for read-only keys on writes)
    -> rate limit (429) -> injected server error (500 JSON / 502 HTML)
    -> bad body (200 with an HTML page or truncated JSON) -> the endpoint

Every non-control request is written to an in-memory access log with its *raw* path, so
tests can prove what actually reached the "upstream".
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import math
import random
import shutil
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulator import imaging
from simulator.catalog import ALL_SLOTS, GENERATION_TYPES, GENERATION_TYPES_BY_ID, TOOLS, TOOLS_BY_NAME
from simulator.config import RateLimit, SimulatorConfig
from simulator.store import STATUSES, DataDir, HistoryRecord, Store, iso_utc, new_object_id
from simulator.worker import JobWorker

CONTROL_PREFIX = "/_simulator"
# FastAPI's own documentation pages: public like the vendor's /docs, and never faulted,
# so a diagnostic can always read the spec even while faults are being injected.
DOC_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REQUEST_LOG_SIZE = 10_000

HTML_BAD_GATEWAY = "<html><body><h1>502 Bad Gateway</h1></body></html>"
# What the bad_body knob answers with a 200: a misrouted proxy's page, or JSON cut short.
HTML_WRONG_SERVER = "<html><body><h1>Welcome to nginx!</h1></body></html>"
TRUNCATED_JSON = '{"items": [{"id": "abc", "sta'


# --- Wire models (they make /openapi.json document every field) -----------------------


class ErrorOut(BaseModel):
    detail: str


class ToolOut(BaseModel):
    group_tool: str
    tool: str
    title: str


class GenerationTypeOut(BaseModel):
    id: str = Field(description="24-hex id, stable across restarts")
    title: str
    brand_url: str | None
    preview_url: str = Field(description="Path relative to the base URL, without a leading slash")


class GenerateOut(BaseModel):
    preview_image: str
    stock_image: str
    history_item_id: str


class HistoryItemOut(BaseModel):
    id: str
    generation_type: str = Field(description="The tool name, as in the vendor's example")
    generation_type_id: str | None
    tool: str
    status: Literal["pending", "complete", "error"]
    created_at: str = Field(description="ISO 8601 UTC, second precision")
    preview_url: str | None = Field(description="Set only when complete")
    stock_url: str | None = Field(description="Set only when complete")
    like: bool | None
    error: str | None
    finished_at: str | None


class HistoryPageOut(BaseModel):
    page: int
    count: int = Field(description="Number of items in this page")
    total_count: int
    pages: int
    items: list[HistoryItemOut]


class FeedbackIn(BaseModel):
    like: StrictBool


class FeedbackOut(BaseModel):
    id: str
    like: bool


class ConfigPatch(BaseModel):
    """Runtime knobs; only the fields present in the body are changed."""

    model_config = ConfigDict(extra="forbid")

    job_seconds: Annotated[float, Field(ge=0)] | None = None
    fail_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    latency_ms: Annotated[float, Field(ge=0)] | None = None
    error_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    error_body: Literal["json", "html"] | None = None
    rate_limit: str | None = None
    bad_body: Literal["json", "html"] | None = None
    log_delay_ms: Annotated[float, Field(ge=0, le=5000)] | None = None
    fail_next: Annotated[int, Field(ge=0, le=10_000)] | None = None

    @field_validator("rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str | None) -> str | None:
        if value:
            RateLimit.parse(value)  # ValueError becomes a 422
        return value or None

    @model_validator(mode="after")
    def _only_rate_limit_may_be_null(self) -> ConfigPatch:
        # null means "off" for the rate limit and the bad body; for the other knobs it would be ambiguous.
        for name in self.model_fields_set - {"rate_limit", "bad_body"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may not be null")
        return self

    def changes(self) -> dict[str, Any]:
        values: dict[str, Any] = {name: getattr(self, name) for name in self.model_fields_set}
        if "rate_limit" in values:
            values["rate_limit"] = RateLimit.parse(values["rate_limit"]) if values["rate_limit"] else None
        return values


# --- Shared state ----------------------------------------------------------------------


# How long reading or clearing the access log waits for answered requests to be written.
SETTLE_SECONDS = 1.0


@dataclass
class RequestLog:
    """Bounded access log of API requests, newest last."""

    entries: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=REQUEST_LOG_SIZE))
    _seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Condition = field(default_factory=threading.Condition)
    # Requests whose answer has been sent but whose entry is not written yet: a client can
    # already hold the answer, so the log waits for these before it is read or cleared.
    _answered_unlogged: int = 0

    def answered(self) -> None:
        with self._lock:
            self._answered_unlogged += 1

    def record(self, method: str, path: str, query: str, status: int, *, was_answered: bool) -> None:
        with self._lock:
            self.entries.append(
                {
                    "seq": next(self._seq),
                    "method": method,
                    "path": path,
                    "query": query,
                    "status": status,
                    # When it was answered (Unix time): lets a test check how requests were spaced.
                    "at": round(time.time(), 4),
                }
            )
            if was_answered:
                self._answered_unlogged -= 1
                self._lock.notify_all()

    def _settle(self) -> None:
        # Requests still being worked on (held by the latency knob, say) are not waited for.
        self._lock.wait_for(lambda: self._answered_unlogged == 0, timeout=SETTLE_SECONDS)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            self._settle()
            return list(self.entries)

    def clear(self) -> None:
        # The sequence keeps counting so entries from before and after a clear never collide.
        with self._lock:
            self._settle()
            self.entries.clear()


class RateLimiter:
    """Sliding window per API key."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()

    def retry_after(self, key: str, limit: RateLimit, now: float) -> int | None:
        """Count the request and return None, or return seconds to wait (not counted)."""
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - limit.seconds:
                hits.popleft()
            if len(hits) >= limit.requests:
                return max(1, math.ceil(hits[0] + limit.seconds - now))
            hits.append(now)
            return None


@dataclass
class SimulatorState:
    config: SimulatorConfig
    store: Store
    worker: JobWorker
    request_log: RequestLog = field(default_factory=RequestLog)
    rate_limiter: RateLimiter = field(default_factory=RateLimiter)
    rng: random.Random = field(default_factory=random.Random)
    preview_lock: threading.Lock = field(default_factory=threading.Lock)


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


State = Annotated[SimulatorState, Depends(_state)]


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


# --- Gateway middleware ----------------------------------------------------------------


class GatewayMiddleware:
    """Latency, auth, rate limit, fault injection and the access log (pure ASGI)."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            await self.app(scope, receive, send)
            return

        status = 500  # what the log says if the app dies before answering
        answered = False

        async def send_and_watch(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body") and not answered:
                answered = True
                self.state.request_log.answered()
            await send(message)

        try:
            await self._handle(scope, receive, send_and_watch)
        finally:
            if self.state.config.log_delay_ms > 0:
                await asyncio.sleep(self.state.config.log_delay_ms / 1000)
            raw_path: bytes = scope.get("raw_path") or path.encode()
            self.state.request_log.record(
                scope["method"],
                raw_path.decode("utf-8", "replace").split("?", 1)[0],
                scope.get("query_string", b"").decode("latin-1"),
                status,
                was_answered=answered,
            )

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        config = self.state.config
        if config.latency_ms > 0:
            await asyncio.sleep(config.latency_ms / 1000)
        if scope["path"] in DOC_PATHS:
            await self.app(scope, receive, send)
            return

        key = _bearer_key(scope)
        if key is None or not _key_in(key, (*config.api_keys, *config.readonly_keys)):
            response: Response = _error(401, "Invalid or missing API key", {"WWW-Authenticate": "Bearer"})
        elif (
            scope["method"] in WRITE_METHODS
            and _key_in(key, config.readonly_keys)
            and not _key_in(key, config.api_keys)
        ):
            response = _error(403, "This API key's plan does not allow this operation")
        elif config.rate_limit and (
            wait := self.state.rate_limiter.retry_after(key, config.rate_limit, time.monotonic())
        ):
            response = _error(429, "Rate limit exceeded", {"Retry-After": str(wait)})
        elif config.error_rate > 0 and self.state.rng.random() < config.error_rate:
            if config.error_body == "html":
                response = HTMLResponse(HTML_BAD_GATEWAY, status_code=502)
            else:
                response = _error(500, "Internal processing error")
        elif config.bad_body == "html":
            response = HTMLResponse(HTML_WRONG_SERVER, status_code=200)
        elif config.bad_body == "json":
            response = Response(TRUNCATED_JSON, status_code=200, media_type="application/json")
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


def _bearer_key(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


def _key_in(key: str, keys: Iterable[str]) -> bool:
    # Constant-time comparison: the simulator should not teach a timing leak by example.
    matched = False
    for candidate in keys:
        matched |= hmac.compare_digest(key.encode(), candidate.encode())
    return matched


# --- Helpers for the endpoints ---------------------------------------------------------


def _item_out(record: HistoryRecord) -> HistoryItemOut:
    complete = record.status == "complete"
    return HistoryItemOut(
        id=record.id,
        generation_type=record.tool,
        generation_type_id=record.generation_type_id,
        tool=record.tool,
        status=record.status,
        created_at=iso_utc(record.created_at) or "",
        preview_url=f"/image/generation_result/{record.id}.webp" if complete else None,
        stock_url=f"/image/generation_result/{record.id}.png" if complete else None,
        like=record.like,
        error=record.error,
        finished_at=iso_utc(record.finished_at),
    )


def _store_upload(upload: UploadFile, paths: DataDir, item_id: str, slot: str) -> str:
    """Copy an upload to the item's folder in chunks; return its data-dir-relative path.

    Raises imaging.InvalidImage (after removing the file) when it is not an image.
    """
    folder = paths.upload_dir(item_id)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{slot}.upload"
    upload.file.seek(0)
    with target.open("wb") as destination:
        shutil.copyfileobj(upload.file, destination, 1 << 16)
    try:
        image_format = imaging.check_upload(target)
    except imaging.InvalidImage:
        target.unlink(missing_ok=True)
        raise
    final = target.with_suffix({"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}[image_format])
    target.rename(final)
    return final.relative_to(paths.root).as_posix()


def _not_found(detail: str) -> dict[int | str, dict[str, Any]]:
    return {404: {"model": ErrorOut, "description": detail}}


_READONLY_FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "The key's plan does not allow this operation"}
}


# --- Routers ---------------------------------------------------------------------------

# The security dependency only documents the bearer scheme in /openapi.json; the
# middleware has already enforced it by the time a route runs.
api = APIRouter(
    dependencies=[Depends(HTTPBearer(auto_error=False))],
    responses={
        401: {"model": ErrorOut, "description": "Missing or invalid API key"},
        429: {"model": ErrorOut, "description": "Rate limited; see Retry-After"},
        500: {"model": ErrorOut, "description": "Processing error"},
    },
)


@api.get("/generation/tools", response_model=list[ToolOut], tags=["generation"])
def list_tools() -> list[ToolOut]:
    return [ToolOut(group_tool=t.group_tool, tool=t.tool, title=t.title) for t in TOOLS]


@api.get(
    "/generation/generationTypes",
    response_model=list[GenerationTypeOut],
    responses=_not_found("Unknown tool"),
    tags=["generation"],
)
def list_generation_types(tool: Annotated[str, Query()]) -> Any:
    if tool not in TOOLS_BY_NAME:
        return _error(404, f"Unknown tool: {tool}")
    return [
        GenerationTypeOut(id=t.id, title=t.title, brand_url=t.brand_url, preview_url=t.preview_path)
        for t in GENERATION_TYPES[tool]
    ]


# FastAPI needs the file fields as literal parameters (so the spec documents them); this
# tuple mirrors their order and the check keeps it in step with the catalogue's slots.
_UPLOAD_PARAMS = ("clothes", "person", "furniture", "room", "fabric", "product", "image")
if set(_UPLOAD_PARAMS) != set(ALL_SLOTS):
    raise RuntimeError("create_job's file parameters must match the catalogue's slots")


@api.post(
    "/generation/generate_image_v2/",
    response_model=GenerateOut,
    responses={400: {"model": ErrorOut, "description": "Unknown tool"}, **_READONLY_FORBIDDEN},
    tags=["generation"],
)
def create_job(
    state: State,
    tool: Annotated[str, Form()],
    generation_type: Annotated[str | None, Form(description="A generation type id of this tool")] = None,
    clothes: Annotated[UploadFile | None, File(description="fashion tools")] = None,
    person: Annotated[UploadFile | None, File(description="fashion tools")] = None,
    furniture: Annotated[UploadFile | None, File(description="furniture")] = None,
    room: Annotated[UploadFile | None, File(description="furniture")] = None,
    fabric: Annotated[UploadFile | None, File(description="fabric")] = None,
    product: Annotated[UploadFile | None, File(description="fabric")] = None,
    image: Annotated[UploadFile | None, File(description="default")] = None,
) -> Any:
    tool_info = TOOLS_BY_NAME.get(tool)
    if tool_info is None:
        return _error(400, f"Unknown tool: {tool}")
    uploads = dict(zip(_UPLOAD_PARAMS, (clothes, person, furniture, room, fabric, product, image), strict=True))

    errors: list[dict[str, Any]] = []
    type_id = generation_type or None
    if type_id is not None:
        known = GENERATION_TYPES_BY_ID.get(type_id)
        if known is None or known.tool != tool:
            errors.append(
                {
                    "loc": ["body", "generation_type"],
                    "msg": "Unknown generation type for this tool",
                    "type": "value_error",
                }
            )

    paths = state.store.paths
    item_id = new_object_id()
    inputs: dict[str, str] = {}
    try:
        for slot in tool_info.slots:
            upload = uploads[slot]
            # Browsers send an empty, nameless part for a file input left blank: that is "missing".
            if upload is None or (not upload.filename and not upload.size):
                errors.append({"loc": ["body", slot], "msg": "Field required", "type": "missing"})
                continue
            try:
                inputs[slot] = _store_upload(upload, paths, item_id, slot)
            except imaging.InvalidImage:
                errors.append(
                    {
                        "loc": ["body", slot],
                        "msg": "Not a valid image (PNG, JPEG or WebP expected)",
                        "type": "value_error",
                    }
                )
        if errors:
            paths.remove_item_files(item_id)
            return JSONResponse({"detail": errors}, status_code=422)
        now = time.time()
        state.store.insert(
            HistoryRecord(
                id=item_id,
                tool=tool,
                generation_type_id=type_id,
                status="pending",
                created_at=now,
                due_at=now + state.config.job_seconds,
                inputs=inputs,
            )
        )
        state.config.note_new_job(item_id)
    except BaseException:
        paths.remove_item_files(item_id)
        raise
    return GenerateOut(
        preview_image=f"image/generation_result/{item_id}.webp",
        stock_image=f"image/generation_result/{item_id}.png",
        history_item_id=item_id,
    )


@api.get("/user/generation-history", response_model=HistoryPageOut, tags=["history"])
def list_history(
    state: State,
    page: Annotated[int, Query(ge=1)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    generation_type: Annotated[str | None, Query(description="A generation type id or a tool name")] = None,
    status: Annotated[
        list[str] | None, Query(description="Repeatable; each one of pending, complete, error (any case)")
    ] = None,
) -> Any:
    statuses = sorted({value.lower() for value in status or ()})
    invalid = [value for value in status or () if value.lower() not in STATUSES]
    if invalid:
        return JSONResponse(
            {
                "detail": [
                    {
                        "loc": ["query", "status"],
                        "msg": "Input should be 'pending', 'complete' or 'error'",
                        "type": "enum",
                        "input": invalid[0],
                    }
                ]
            },
            status_code=422,
        )
    # SQLite integers are 64-bit: clamp absurd page numbers instead of overflowing (-> 500).
    offset = min((page - 1) * limit, 2**62)
    total, records = state.store.page(
        offset=offset, limit=limit, statuses=statuses, generation_type=generation_type or None
    )
    return HistoryPageOut(
        page=page,
        count=len(records),
        total_count=total,
        pages=math.ceil(total / limit),
        items=[_item_out(record) for record in records],
    )


@api.get(
    "/user/generation-history/{item_id}",
    response_model=HistoryItemOut,
    responses=_not_found("Generation record not found"),
    tags=["history"],
)
def get_history_item(state: State, item_id: str) -> Any:
    record = state.store.get(item_id)
    if record is None:
        return _error(404, "Generation record not found")
    return _item_out(record)


@api.patch(
    "/user/generation-history/feedback/{item_id}",
    response_model=FeedbackOut,
    responses={**_not_found("Generation record not found"), **_READONLY_FORBIDDEN},
    tags=["history"],
)
def set_feedback(state: State, item_id: str, body: FeedbackIn) -> Any:
    if not state.store.set_like(item_id, body.like):
        return _error(404, "Generation record not found")
    return FeedbackOut(id=item_id, like=body.like)


@api.delete(
    "/user/generation-history/{item_id}",
    status_code=204,
    response_class=Response,
    responses={**_not_found("Generation record not found"), **_READONLY_FORBIDDEN},
    tags=["history"],
)
def delete_history_item(state: State, item_id: str) -> Response:
    if not state.store.delete(item_id):
        return _error(404, "Generation record not found")
    state.store.paths.remove_item_files(item_id)
    return Response(status_code=204)


@api.get(
    "/image/generation_result/{filename}",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}, "image/webp": {}}}, **_not_found("Image not found")},
    tags=["images"],
)
def get_result_image(state: State, filename: str) -> Response:
    item_id, _, ext = filename.rpartition(".")
    if ext in ("png", "webp") and item_id:
        record = state.store.get(item_id)
        if record is not None and record.status == "complete":
            path = state.store.paths.result(item_id, "png" if ext == "png" else "webp")
            if path.is_file():
                return FileResponse(path, media_type=f"image/{ext}")
    return _error(404, "Image not found")


@api.get(
    "/image/generation_type/{filename}",
    response_class=FileResponse,
    responses={200: {"content": {"image/webp": {}}}, **_not_found("Image not found")},
    tags=["images"],
)
def get_type_preview(state: State, filename: str) -> Response:
    type_id, _, ext = filename.rpartition(".")
    gtype = GENERATION_TYPES_BY_ID.get(type_id) if ext == "webp" else None
    if gtype is None:
        return _error(404, "Image not found")
    path = state.store.paths.type_previews / f"{gtype.id}.webp"
    # Rendered on first request and cached on disk; the lock stops two threads drawing it twice.
    with state.preview_lock:
        if not path.is_file():
            imaging.render_type_preview(gtype.id, gtype.title, TOOLS_BY_NAME[gtype.tool].title, path)
    return FileResponse(path, media_type="image/webp")


control = APIRouter(prefix=CONTROL_PREFIX, include_in_schema=False)


@control.get("/health")
def health() -> dict[str, bool]:
    return {"ok": True}


@control.get("/config")
def get_config(state: State) -> dict[str, Any]:
    return state.config.runtime_snapshot()


@control.patch("/config")
def patch_config(state: State, patch: ConfigPatch) -> dict[str, Any]:
    changes = patch.changes()
    state.config.update(changes)
    if "rate_limit" in changes:
        # A new limit starts with fresh windows, so tests are not affected by earlier calls.
        state.rate_limiter.reset()
    return state.config.runtime_snapshot()


@control.get("/requests")
def get_requests(state: State) -> dict[str, list[dict[str, Any]]]:
    return {"requests": state.request_log.snapshot()}


@control.delete("/requests", status_code=204, response_class=Response)
def clear_requests(state: State) -> Response:
    state.request_log.clear()
    return Response(status_code=204)


def create_app(config: SimulatorConfig | None = None) -> FastAPI:
    """Build the simulator app; the worker runs only while the app's lifespan does."""
    config = config or SimulatorConfig.from_env()
    store = Store(DataDir(config.data_dir))
    state = SimulatorState(config=config, store=store, worker=JobWorker(store, config))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.worker.start()
        try:
            yield
        finally:
            state.worker.stop()
            store.close()

    app = FastAPI(
        title="Nextry API (local simulator)",
        version="2-sim",
        description="A faithful local stand-in for the Nextry image-generation API.",
        lifespan=lifespan,
    )
    app.state.simulator = state
    app.include_router(api)
    app.include_router(control)
    app.add_middleware(GatewayMiddleware, state=state)
    return app
