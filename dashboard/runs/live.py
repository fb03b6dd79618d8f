"""What the run page shows live: the progress and the matrix of cells, as the index knows
them, and a fingerprint so a poll that finds nothing new answers with no body."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from django.db.models import Max

from dashboard.core import polling
from dashboard.gallery.history import url_for_item
from dashboard.index import services as index
from dashboard.index import status as index_status
from dashboard.models import IndexedResult, InputImage, Run, RunCell
from dashboard.runs import services as runs


@dataclass
class CellView:
    """One cell of the matrix as drawn."""

    cell: RunCell
    status: str
    reason: str = ""
    item_id: str = ""
    preview_url: str = ""
    detail_url: str = ""
    like: bool | None = None
    running_since: object = None
    label: str = ""  # which inputs it combines, for its alt text and buttons


PRIVATE_IMAGE = "Private image"


@dataclass
class Edge:
    """A row's or column's image as this viewer may see it: an image private to a teammate
    (not yet sent, so not yet the team's) shows neither its name nor its picture."""

    image: InputImage
    name: str
    shown: bool


def edges_for(viewer, images: list[InputImage]) -> list[Edge]:
    seen = set(
        InputImage.objects.visible_to(viewer).filter(pk__in=[image.pk for image in images]).values_list("pk", flat=True)
    )
    return [
        Edge(image, image.display_name if image.pk in seen else PRIVATE_IMAGE, image.pk in seen) for image in images
    ]


def eta_text(seconds: int | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return "less than a minute left"
    minutes = round(seconds / 60)
    return f"about {minutes} min left" if minutes < 60 else f"about {minutes // 60} h {minutes % 60} min left"


def poll_seconds(run: Run) -> int:
    """Fast while the run is young or was just tried again, slower once it has gone on a while."""
    latest = run.jobs.aggregate(latest=Max("created_at"))["latest"]
    return polling.poll_seconds(max(filter(None, [run.created_at, latest])))


def matrix_rows(run: Run, edges: list[Edge]) -> list[list[CellView]]:
    grid = runs.cells_grid(run)
    names = {edge.image.pk: edge.name for edge in edges}
    item_ids = [cell.job.history_item_id for row in grid for cell in row if cell.job]
    ratings = dict(IndexedResult.objects.filter(history_item_id__in=item_ids).values_list("history_item_id", "rating"))
    query = f"?run={run.pk}&back=run"  # its lightbox walks the run and closes back here
    drawn = []
    for row in grid:
        views = []
        for cell in row:
            view = CellView(cell=cell, status=runs.cell_status(cell))
            view.label = names.get(cell.row_image_id, "")
            if cell.column_image_id:
                view.label += f" on {names.get(cell.column_image_id, '')}"
            job = cell.job
            if job is not None:
                view.item_id = job.history_item_id
                view.detail_url = url_for_item("history_item", job.history_item_id) + query
                if view.status == "done":
                    view.preview_url = url_for_item("result_image", job.history_item_id, "preview")
                    view.like = index.like_of(ratings.get(job.history_item_id, ""))
                if view.status == "running":
                    view.running_since = job.created_at
            if view.status == "failed":
                view.reason = runs.cell_problem(cell) or "The job failed."
            views.append(view)
        drawn.append(views)
    return drawn


def fingerprint(rows: list[list[CellView]], progress: runs.Progress, problem: str | None, seconds: int | None) -> str:
    """What the live part of the run page shows, in 16 hex digits: the same, nothing to redraw.

    Running cells' elapsed seconds are not in it: the browser counts those (core.js)."""
    state = [
        (view.cell.pk, view.status, view.cell.attempt, view.item_id, view.reason, view.like)
        for row in rows
        for view in row
    ]
    # The time left as shown ("about 3 min"), not in seconds, which change at every poll.
    shown = (state, replace(progress, eta_seconds=None), eta_text(progress.eta_seconds), problem, seconds)
    return hashlib.sha256(repr(shown).encode()).hexdigest()[:16]


def live_context(run: Run, viewer) -> dict:
    """The progress and the matrix, as the index knows them (the sync process follows the
    jobs' statuses): drawing the page asks the upstream nothing."""
    problem = None
    progress = runs.progress(run)
    if progress.running and (status := index_status.current()).stale:
        problem = f"{status.sentence} This shows the last known state and keeps checking."
    if progress.queued and runs.worker_missing(run):
        problem = runs.WORKER_MISSING_MESSAGE if problem is None else f"{problem} {runs.WORKER_MISSING_MESSAGE}"
    row_images = edges_for(viewer, runs.row_images(run))
    column_images = edges_for(viewer, runs.column_images(run))
    rows = matrix_rows(run, [*row_images, *column_images])
    seconds = None if progress.finished else poll_seconds(run)
    return {
        "run": run,
        "progress": progress,
        "eta": eta_text(progress.eta_seconds),
        "matrix": list(zip(row_images, rows, strict=False)),
        "column_images": column_images,
        "live_problem": problem,
        "poll_seconds": seconds,
        "fingerprint": fingerprint(rows, progress, problem, seconds),
    }
