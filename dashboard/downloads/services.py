"""Results downloaded as one ZIP: a run's (all, or the liked ones) or a gallery selection.

The archive is streamed: each image is copied from the upstream into a temporary file
(genapi.open_result), written into the ZIP in pieces and let go before the next, so a
worker's memory stays flat however many results there are. PNG, JPEG and WebP are
compressed already, so members are stored, not deflated. A `manifest.csv` comes last:
it can then say which images could not be read once the stream had begun (an HTTP
answer cannot turn into an error page halfway).

Which results there are, and where their images are, comes from the index (no upstream
call). What can fail before the first byte is sent, the first image (`prepare`), fails
with a message instead of a ZIP; later failures are listed in the manifest as
"missing: <reason>", and so is every image not read when the archive's deadline
(DOWNLOAD_DEADLINE_SECONDS) passes: a dripping upstream cannot hold a web thread.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import zipstream
from django.conf import settings
from django.utils import timezone
from django.utils.text import slugify

from dashboard import genapi
from dashboard.core.catalogue import catalogue
from dashboard.index import services as index
from dashboard.models import IndexedResult, Job, Run
from dashboard.reviews import services as reviews
from dashboard.trash import services as trash

logger = logging.getLogger("dashboard.downloads")

# One archive holds at most this many results of a gallery selection (a run holds at
# most RUN_MAX_JOBS). Each costs one image read upstream.
MAX_SELECTION = 200
# Each input's part of a file name is cut to this many characters.
NAME_PART_CHARS = 40
MANIFEST_NAME = "manifest.csv"

DELETED_UPSTREAM = "deleted upstream"


def out_of_time() -> str:
    return f"the download reached its time limit ({settings.DOWNLOAD_DEADLINE_SECONDS:g} s) first"


class NothingToDownload(Exception):
    """No result of the request has an image to put in an archive; `message` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Entry:
    """One result asked for: in the archive under `file_name`, or `missing` with why."""

    item_id: str
    item: genapi.HistoryItem | None
    job: Job | None
    tool: str  # the tool's name, e.g. "fashion_swap"
    tool_title: str
    style_title: str
    like: bool | None
    inputs: list[tuple[str, str]] = field(default_factory=list)  # (slot label, image name)
    reasons: str = ""  # the dislike reasons, as the lightbox names them
    note: str = ""
    file_name: str = ""
    missing: str = ""

    @property
    def made_by(self) -> str:
        return self.job.designer.get_username() if self.job and self.job.designer else ""

    @property
    def created_at(self) -> datetime | None:
        if self.item is not None and self.item.created_at is not None:
            return self.item.created_at
        return self.job.created_at if self.job else None


@dataclass
class Plan:
    archive_name: str
    entries: list[Entry]
    # Said when nothing can be downloaded.
    empty_message: str

    @property
    def input_labels(self) -> list[str]:
        """One manifest column per kind of input, in the order they first appear."""
        return list(dict.fromkeys(label for entry in self.entries for label, _ in entry.inputs))


# --- What goes in ---------------------------------------------------------------------


def _entries(items: Iterable[tuple[str, genapi.HistoryItem | None]]) -> list[Entry]:
    """Entries for (id, item) pairs, with the job made here (its tool and inputs) when
    there is one; an item of None was deleted upstream."""
    pairs = list(items)
    ids = [item_id for item_id, _ in pairs]
    made_here = {
        job.history_item_id: job
        for job in Job.objects.filter(history_item_id__in=ids)
        .select_related("designer")
        .prefetch_related("inputs__image")
    }
    found_reviews = reviews.reviews_of(ids)
    known = catalogue()
    entries = []
    for item_id, item in pairs:
        job = made_here.get(item_id)
        review = found_reviews.get(item_id)
        tool = job.tool if job else (known.tool_of(item) if item else "")
        entries.append(
            Entry(
                item_id=item_id,
                item=item,
                job=job,
                tool=tool,
                tool_title=known.tool_title(tool) if tool else "",
                style_title=(job.style_title if job and job.style_title else (known.style_title(item) if item else "")),
                like=reviews.like_shown(item.like, review) if item else None,
                reasons=reviews.reason_labels(review),
                note=review.note if review else "",
                inputs=[(entry.label, entry.image.display_name) for entry in job.inputs.all()] if job else [],
                missing="" if item else DELETED_UPSTREAM,
            )
        )
    return entries


def indexed(ids: list[str]) -> list[tuple[str, genapi.HistoryItem | None]]:
    """These results as the index knows them, in order; None for one it does not hold
    (deleted upstream)."""
    rows = {row.history_item_id: row for row in IndexedResult.objects.filter(history_item_id__in=ids)}
    return [(item_id, index.as_item(rows[item_id]) if item_id in rows else None) for item_id in ids]


def plan_run(run: Run, *, liked_only: bool = False) -> Plan:
    """The finished results of a run's cells (each cell's latest attempt), or only those
    the team liked, as the index holds them. Results in the trash stay out."""
    cells = run.cells.filter(job__isnull=False).select_related("job").order_by("row", "column")
    ids = [cell.job.history_item_id for cell in cells if cell.job is not None]
    hidden = trash.hidden_ids()
    pairs = [(item_id, item) for item_id, item in indexed(ids) if item_id not in hidden]
    entries = [entry for entry in _entries(pairs) if entry.item is None or entry.item.is_complete]
    if liked_only:
        # A result deleted upstream has no like to go by: it is left out, not listed.
        entries = [entry for entry in entries if entry.like is True]
        return Plan(
            archive_name=f"run-{run.pk}-liked.zip",
            entries=entries,
            empty_message="None of this run's results is liked yet. Like some first, or download all of them.",
        )
    return Plan(
        archive_name=f"run-{run.pk}.zip",
        entries=entries,
        empty_message="This run has no finished results to download yet.",
    )


class SelectionRefused(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def check_selection(ids: list[str]) -> list[str]:
    """The selected ids, each once, in order; refused whole when one is not a result id
    or when there are more than MAX_SELECTION."""
    chosen = list(dict.fromkeys(ids))
    if not chosen:
        raise SelectionRefused("Select at least one result to download.")
    if not all(genapi.is_valid_id(item_id) for item_id in chosen):
        raise SelectionRefused("The selection names something that is not a result. Select the results again.")
    if len(chosen) > MAX_SELECTION:
        raise SelectionRefused(
            f"One download holds at most {MAX_SELECTION} results; {len(chosen)} are selected. "
            "Select fewer and download them in parts."
        )
    return chosen


def plan_selection(ids: list[str]) -> Plan:
    """The chosen results (ids from check_selection); those without an image (still
    running, failed, deleted) are listed in the manifest as missing."""
    entries = _entries(indexed(ids))
    for entry in entries:
        if entry.item is not None and entry.item.is_pending:
            entry.missing = "still running"
        elif entry.item is not None and entry.item.is_error:
            entry.missing = "failed, no image"
    day = timezone.localdate().isoformat()
    return Plan(
        archive_name=f"selection-{day}.zip",
        entries=entries,
        empty_message="None of the selected results has a finished image to download.",
    )


# --- Names and the manifest -----------------------------------------------------------


def _slug(text: str) -> str:
    return slugify(text).replace("_", "-")[:NAME_PART_CHARS].strip("-")


def file_name(entry: Entry, extension: str, taken: set[str]) -> str:
    """`fashion-swap__red-dress__anna__<id>.png`: the tool, the inputs' names (when the
    job was made here) and the result's id; unique among `taken`, which it joins."""
    parts = [_slug(entry.tool) or "result", *(_slug(name) for _, name in entry.inputs), entry.item_id]
    stem = "__".join(part for part in parts if part)
    name, number = f"{stem}{extension}", 1
    while name in taken:
        number += 1
        name = f"{stem}-{number}{extension}"
    taken.add(name)
    return name


def _cell(value: str) -> str:
    """A spreadsheet opening the manifest must not take a name for a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _liked(like: bool | None) -> str:
    return {True: "liked", False: "disliked", None: ""}[like]


def manifest(plan: Plan) -> bytes:
    """One row per result asked for: its file (or why it is missing), id, tool, style,
    each input's name, status, rating, dislike reasons and note, who made it and when."""
    labels = plan.input_labels
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["file", "result id", "tool", "style", *(f"input: {label}" for label in labels), "status"]
        + ["liked", "dislike reasons", "note", "made by", "created at"]
    )
    for entry in plan.entries:
        names = dict(entry.inputs)
        created = entry.created_at
        row = [
            entry.file_name or f"missing: {entry.missing}",
            entry.item_id,
            entry.tool_title,
            entry.style_title,
            *(names.get(label, "") for label in labels),
            entry.item.status.label if entry.item else "Deleted",
            _liked(entry.like),
            entry.reasons,
            entry.note,
            entry.made_by,
            timezone.localtime(created).isoformat(timespec="seconds") if created else "",
        ]
        writer.writerow([_cell(value) for value in row])
    # With a byte order mark, spreadsheets read the names' accents as UTF-8.
    return out.getvalue().encode("utf-8-sig")


# --- The stream -----------------------------------------------------------------------

NOT_AN_IMAGE = "the generation service sent something that is not an image"
TOO_LARGE = "the image is larger than the dashboard accepts"
# What is wrong with one result's image, not with the upstream: skipped even before the
# first byte (anything else then means the upstream is failing, and is said instead).
ONE_IMAGE_PROBLEMS = (genapi.NotFound, genapi.NotAnImage, genapi.TooLarge)


@dataclass
class Download:
    """A planned archive whose first image is already read: iterating it streams the ZIP."""

    plan: Plan
    first: Entry
    first_file: genapi.ResultFile
    ends_at: float  # time.monotonic(): the whole archive's deadline
    _stream: Iterator[bytes] | None = field(default=None, init=False, repr=False)

    def __iter__(self) -> Iterator[bytes]:
        if self._stream is None:
            self._stream = self._generate()
        return self._stream

    def close(self) -> None:
        """Let go of the open image; the server calls this when the answer ends, also
        when the browser went away mid-stream."""
        if self._stream is not None:
            self._stream.close()  # type: ignore[attr-defined]
        self.first_file.close()

    def _generate(self) -> Iterator[bytes]:
        archive = zipstream.ZipStream(compress_type=zipstream.ZIP_STORED, sized=False)
        taken = {MANIFEST_NAME}
        pending = [entry for entry in self.plan.entries if not entry.missing]
        opened: genapi.ResultFile | None = self.first_file
        try:
            for entry in pending[pending.index(self.first) :]:
                if entry is not self.first:
                    left = self.ends_at - time.monotonic()
                    if left > 0:
                        opened = _open(entry, skip=(genapi.GenApiError,), within=left)
                    if left <= 0 or (opened is None and time.monotonic() >= self.ends_at):
                        entry.missing = out_of_time()
                    if opened is None:
                        continue
                assert opened is not None
                entry.file_name = file_name(entry, opened.extension, taken)
                archive.add(opened.chunks(), entry.file_name, size=opened.size)
                yield from archive.all_files()
                opened.close()
                opened = None
            archive.add(manifest(self.plan), MANIFEST_NAME, compress_type=zipstream.ZIP_DEFLATED)
            yield from archive.finalize()
        finally:
            if opened is not None:
                opened.close()


def _open(entry: Entry, *, skip: tuple[type[genapi.GenApiError], ...], within: float) -> genapi.ResultFile | None:
    """The entry's image, read in at most `within` seconds; None, with `entry.missing`
    saying why, when reading it failed in one of the `skip` ways (the others raise)."""
    assert entry.item is not None
    try:
        return genapi.open_result(entry.item, within=within)
    except skip as exc:
        if isinstance(exc, genapi.NotFound):
            entry.missing = DELETED_UPSTREAM
        elif isinstance(exc, genapi.NotAnImage):
            entry.missing = NOT_AN_IMAGE
        elif isinstance(exc, genapi.TooLarge):
            entry.missing = TOO_LARGE
        else:
            entry.missing = exc.message
    logger.info("download: result %s left out: %s", entry.item_id, entry.missing)
    return None


def prepare(plan: Plan) -> Download:
    """Read the first image that can be read, before any byte of the answer is sent.

    Results deleted upstream, not images or too large are skipped (and listed as missing); any
    other upstream failure (unreachable, key refused, rate-limited) raises
    genapi.GenApiError, so the designer gets a message rather than a broken archive.
    NothingToDownload when no result has an image.

    The whole archive, this first read included, has DOWNLOAD_DEADLINE_SECONDS: an image
    not read by then is listed in the manifest as left out, and the archive ends."""
    ends_at = time.monotonic() + settings.DOWNLOAD_DEADLINE_SECONDS
    for entry in plan.entries:
        if entry.missing:
            continue
        opened = _open(entry, skip=ONE_IMAGE_PROBLEMS, within=ends_at - time.monotonic())
        if opened is not None:
            return Download(plan=plan, first=entry, first_file=opened, ends_at=ends_at)
    raise NothingToDownload(plan.empty_message)
