"""A run's garment × model matrix as a heat map of its ratings, with the best row and
column named: which garment and which model photo gave the most keepers in this run.
Read from the run's cells and their results' index rows (at most RUN_MAX_JOBS)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dashboard import genapi
from dashboard.gallery.history import Filters
from dashboard.gallery.pages import gallery_url
from dashboard.insights.figures import Cell, Table
from dashboard.models import IndexedResult, Run, RunCell
from dashboard.runs.live import Edge

# What a cell shows, in words and as a mark beside its colour (never colour alone).
LOOKS = {
    "liked": ("Liked", "✓"),
    "disliked": ("Disliked", "✗"),
    "unrated": ("Not rated", "·"),
    "failed": ("Failed", "!"),
    "waiting": ("No result yet", ""),
}


@dataclass(frozen=True)
class HeatCell:
    look: str  # a key of LOOKS, and the cell's colour (insights.css's .heat-*)
    words: str
    mark: str
    href: str  # the gallery showing this cell's result alone ("" while it has none)
    place: str = ""  # "Garment 1 on Model 2": the cell's text alternative with `words`


@dataclass
class Line:
    """A row or a column: its image's name, its cells' links, and how they were rated."""

    edge: Edge
    href: str
    results: int = 0
    liked: int = 0
    disliked: int = 0

    def add(self, look: str) -> None:
        if look != "waiting":
            self.results += 1
        self.liked += look == "liked"
        self.disliked += look == "disliked"

    @property
    def score(self) -> tuple[int, int]:
        return self.liked, -self.disliked


@dataclass
class HeatMap:
    run: Run
    rows: list[tuple[Line, list[HeatCell]]]
    columns: list[Line]
    table: Table
    best_row: Line | None = None
    best_column: Line | None = None
    legend: list[tuple[str, str, str]] = field(default_factory=list)  # (look, words, mark)


def look_of(status: str, rating: str) -> str:
    if status == genapi.Status.ERROR:
        return "failed"
    if status == genapi.Status.COMPLETE:
        return rating or "unrated"
    return "waiting"


def run_heatmap(run: Run, row_edges: list[Edge], column_edges: list[Edge]) -> HeatMap:
    scope = Filters(run=run.pk)
    cells = list(RunCell.objects.filter(run=run).values_list("row", "column", "job__history_item_id"))
    found = {
        item_id: (status, rating)
        for item_id, status, rating in IndexedResult.objects.filter(
            history_item_id__in=[item for *_, item in cells if item], in_trash=False
        ).values_list("history_item_id", "status", "rating")
    }
    rows = [Line(edge, gallery_url(scope, inputs=(edge.image.pk,))) for edge in row_edges]
    columns = [Line(edge, gallery_url(scope, inputs=(edge.image.pk,))) for edge in column_edges]
    grid: dict[tuple[int, int], HeatCell] = {}
    table = Table([run.row_label.lower(), (run.column_label or "result").lower(), "rating"])
    for row, column, item_id in sorted(cells):
        look = look_of(*found[item_id]) if item_id in found else "waiting"
        words, mark = LOOKS[look]
        images = (rows[row].edge.image.pk, *([columns[column].edge.image.pk] if columns else []))
        href = gallery_url(scope, inputs=images) if look != "waiting" else ""
        column_name = columns[column].edge.name if columns else ""
        place = f"{rows[row].edge.name} on {column_name}" if columns else rows[row].edge.name
        grid[row, column] = HeatCell(look, words, mark, href, place)
        rows[row].add(look)
        if columns:
            columns[column].add(look)
        table.rows.append([Cell(rows[row].edge.name), Cell(column_name), Cell(words, href)])
    width = max(len(columns), 1)
    waiting = HeatCell("waiting", *LOOKS["waiting"], "")
    heat = HeatMap(
        run, [(line, [grid.get((n, c), waiting) for c in range(width)]) for n, line in enumerate(rows)], columns, table
    )
    heat.best_row = best(rows)
    heat.best_column = best(columns)
    heat.legend = [(look, *LOOKS[look]) for look in LOOKS]
    return heat


def best(lines: list[Line]) -> Line | None:
    """The line with the most liked results (fewer dislikes break a tie); none before any like."""
    top = max(lines, key=lambda line: line.score, default=None)
    return top if top is not None and top.liked else None


def for_run(run: Run, viewer) -> HeatMap:
    """The heat map as this viewer may see it (a teammate's private image stays unnamed)."""
    from dashboard.runs import services as runs
    from dashboard.runs.live import edges_for

    return run_heatmap(run, edges_for(viewer, runs.row_images(run)), edges_for(viewer, runs.column_images(run)))
