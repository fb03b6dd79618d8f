"""The values and errors genapi hands out: plain, typed, with no trace of HTTP or JSON."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from django.db import models


class Status(models.TextChoices):
    """A job's state. The values are the upstream's; the labels are what designers read,
    everywhere: tray, gallery, lightbox, filters, and the Job model's choices."""

    PENDING = "pending", "Running"
    COMPLETE = "complete", "Done"
    ERROR = "error", "Failed"


@dataclass(frozen=True)
class Tool:
    name: str
    title: str
    group: str


@dataclass(frozen=True)
class Style:
    """One of a tool's styles (the upstream calls them generation types)."""

    id: str
    title: str
    tool: str
    preview_path: str | None = None
    brand_url: str | None = None


@dataclass(frozen=True)
class HistoryItem:
    id: str
    status: Status  # anything unknown upstream reads as PENDING ("still running")
    raw_status: str
    # The tool that made it. The upstream's own field holds a tool name in its example
    # but may hold a style id instead: the catalogue tells which (core.catalogue.Catalogue).
    tool: str | None
    style_id: str | None
    created_at: datetime | None
    preview_path: str | None
    stock_path: str | None
    like: bool | None
    error_message: str | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_pending(self) -> bool:
        return self.status == Status.PENDING

    @property
    def is_complete(self) -> bool:
        return self.status == Status.COMPLETE

    @property
    def is_error(self) -> bool:
        return self.status == Status.ERROR


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


class ResultFile:
    """A result's full-quality image, cleaned of metadata, waiting in a temporary file on
    disk to be read in pieces (genapi.open_result); close it, or use it in a `with`."""

    CHUNK_SIZE = 64 * 1024

    def __init__(self, fileobj: IO[bytes], *, extension: str, size: int):
        self._file = fileobj
        self.extension = extension
        self.size = size

    def chunks(self) -> Iterator[bytes]:
        self._file.seek(0)
        while chunk := self._file.read(self.CHUNK_SIZE):
            yield chunk

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ResultFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class UploadFile:
    """One image for a job: the form field (slot) it goes in and an open binary file."""

    slot: str
    filename: str
    fileobj: IO[bytes]
    content_type: str


# --- Errors: `message` is always safe to show to a designer ---------------------------


class GenApiError(Exception):
    """Base of every upstream failure."""

    default_message = "The generation service failed unexpectedly."

    def __init__(self, message: str | None = None, *, status: int | None = None):
        self.message = message or self.default_message
        self.status = status
        super().__init__(self.message)


class UpstreamUnavailable(GenApiError):
    default_message = "The generation service cannot be reached right now. Please try again in a moment."

    def __init__(self, message: str | None = None, *, status: int | None = None, never_arrived: bool = False):
        super().__init__(message, status=status)
        # True when the request surely never reached the upstream (no connection was
        # made): a job creation that failed so may be sent again without doubling it.
        self.never_arrived = never_arrived


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
    """400 or 422: the upstream refused the request; `field_errors` maps the dashboard's
    field names (e.g. `style`, never the upstream's `generation_type`) to messages."""

    default_message = "The generation service refused the request."

    def __init__(
        self, message: str | None = None, *, field_errors: dict[str, list[str]] | None = None, status: int | None = None
    ):
        super().__init__(message, status=status)
        self.field_errors = field_errors or {}


class UpstreamError(GenApiError):
    default_message = "The generation service had a problem processing the request. Please try again."


class TooLarge(UpstreamError):
    """An answer larger than the dashboard accepts (transport's MAX_* caps)."""

    default_message = "The generation service sent an answer larger than the dashboard accepts."


class NotAnImage(UpstreamError):
    """An image address answered with something that is not a PNG, JPEG or WebP image."""

    default_message = "The generation service sent something that is not an image."
