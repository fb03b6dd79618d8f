"""The insights' figures: the database's counts (queries.py) as bars, each a link to the
gallery showing exactly the results it counts, and as the table behind the figure (the
same table its CSV download writes). Templates draw them (templates/insights/)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from dashboard.core.catalogue import Catalogue
from dashboard.gallery.history import Filters
from dashboard.gallery.pages import gallery_url
from dashboard.insights import queries
from dashboard.insights.queries import RatingCounts
from dashboard.models import Review

# Below this many results a rate is shown with its 95% Wilson interval and "few results".
FEW_RESULTS = 30
Z_95 = 1.959964

INPUT_KINDS = {"clothes": "Garments", "person": "Model photos"}


def wilson_interval(successes: int, trials: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a rate: honest for small counts and rates near 0 or 1."""
    if trials == 0:
        return 0.0, 1.0
    rate = successes / trials
    spread = Z_95 * Z_95 / trials
    centre = (rate + spread / 2) / (1 + spread)
    half = Z_95 * math.sqrt(rate * (1 - rate) / trials + spread / (4 * trials)) / (1 + spread)
    return max(0.0, centre - half), min(1.0, centre + half)


def percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds:.1f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


@dataclass(frozen=True)
class Cell:
    text: str
    href: str = ""  # the gallery showing exactly the results this number counts


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)

    def as_rows(self) -> list[list[str]]:
        """The table as its CSV writes it: the headers, then each row's texts."""
        return [self.headers, *([cell.text for cell in row] for row in self.rows)]


@dataclass(frozen=True)
class Bar:
    measure: str  # what it measures ("Kept", "Liked of rated"): names its colour's meaning
    tone: str  # the palette's colour (app.css's .tone-*): Okabe-Ito, safe for colour blindness
    share: float  # the bar's length, 0 to 1
    text: str  # the number as read beside the bar
    href: str
    count: int  # how many results the gallery behind href shows
    interval: tuple[float, float] | None = None  # with few results
    marker: float | None = None  # a second mark on the same scale (95th percentile, cumulative share)

    @property
    def few(self) -> bool:
        return self.interval is not None

    # The SVG's coordinates: its viewBox is 100 wide, so a share is a percentage.
    @property
    def width(self) -> str:
        return f"{self.share * 100:.2f}"

    @property
    def interval_from(self) -> str:
        return f"{self.interval[0] * 100:.2f}" if self.interval else ""

    @property
    def interval_to(self) -> str:
        return f"{self.interval[1] * 100:.2f}" if self.interval else ""

    @property
    def marker_at(self) -> str:
        return "" if self.marker is None else f"{min(self.marker, 1) * 100:.2f}"


@dataclass(frozen=True)
class BarRow:
    label: str
    bars: list[Bar]


@dataclass(frozen=True)
class Section:
    title: str
    rows: list[BarRow]


@dataclass
class Figure:
    slug: str
    title: str
    summary: str  # the figure's text alternative: what it shows, in a sentence
    sections: list[Section]
    table: Table
    legend: list[tuple[str, str]] = field(default_factory=list)  # (tone, meaning)

    @property
    def empty(self) -> bool:
        return not any(section.rows for section in self.sections)


def rate_bar(measure: str, tone: str, part: int, whole: int, href: str) -> Bar:
    """A rate's bar, linked to the results counted in its numerator (the keepers)."""
    share = part / whole if whole else 0.0
    few = whole < FEW_RESULTS
    interval = wilson_interval(part, whole) if few and whole else None
    text = f"{percent(share)} ({part} of {whole})" if whole else "no results"
    if interval:
        text += f", 95% interval {percent(interval[0])} to {percent(interval[1])}, few results"
    return Bar(measure=measure, tone=tone, share=share, text=text, href=href, count=part, interval=interval)


def rate_cells(part: int, whole: int) -> list[Cell]:
    """A rate in the table: the rate, its interval (with few results) and whether they are few."""
    if not whole:
        return [Cell(""), Cell(""), Cell("")]
    if whole >= FEW_RESULTS:
        return [Cell(percent(part / whole)), Cell(""), Cell("")]
    low, high = wilson_interval(part, whole)
    return [Cell(percent(part / whole)), Cell(f"{percent(low)} to {percent(high)}"), Cell("few results")]


RATE_HEADERS = [
    "results",
    "finished",
    "rated",
    "kept (liked)",
    "keep rate",
    "keep rate 95% interval",
    "keep rate note",
    "like rate",
    "like rate 95% interval",
    "like rate note",
]
RATE_LEGEND = [("keep", "Kept: liked of finished"), ("like", "Liked of rated")]


def rating_figure(slug: str, by: str, groups: list[tuple[str, RatingCounts, Filters]], note: str = "") -> Figure:
    """Keep rate and like rate of each group (`by`: tool, style...), its label and the filters that show it."""
    title = f"Keepers by {by}"
    summary = f"Kept: liked of finished results; liked of rated: liked of those liked or disliked. Per {by}{note}."
    rows, table = [], Table([by, *RATE_HEADERS])
    for label, counts, scope in groups:
        keepers = gallery_url(scope, rating="liked")
        rows.append(
            BarRow(
                label,
                [
                    rate_bar("Kept", "keep", counts.liked, counts.finished, keepers),
                    rate_bar("Liked of rated", "like", counts.liked, counts.rated, keepers),
                ],
            )
        )
        table.rows.append(
            [
                Cell(label),
                Cell(str(counts.jobs), gallery_url(scope)),
                Cell(str(counts.finished), gallery_url(scope, statuses=("complete", "error"))),
                Cell(str(counts.rated)),
                Cell(str(counts.liked), keepers),
                *rate_cells(counts.liked, counts.finished),
                *rate_cells(counts.liked, counts.rated),
            ]
        )
    return Figure(slug, title, summary, [Section("", rows)], table, RATE_LEGEND)


def week_scope(scope: Filters, monday: date) -> Filters:
    """The scope narrowed to one week: custom dates Monday to Sunday, within the scope's own range."""
    start, end = monday, monday + timedelta(days=6)
    if scope.period == "custom":
        start = max(start, scope.date_from or start)
        end = min(end, scope.date_to or end)
    return _scoped(scope, period="custom", date_from=start, date_to=end)


def _scoped(scope: Filters, **changes) -> Filters:
    return replace(scope, **changes)


# The week figures show the latest weeks of the range (a page of 52 weeks × 9 tools is unreadable).
WEEKS_SHOWN = 12


def weeks_since(scope: Filters) -> datetime:
    """The start of the first week shown: WEEKS_SHOWN weeks up to the range's end (or this week)."""
    last = scope.date_to if scope.period == "custom" and scope.date_to else timezone.localdate()
    monday = last - timedelta(days=last.weekday(), weeks=WEEKS_SHOWN - 1)
    if scope.period == "custom" and scope.date_from and scope.date_from > monday:
        monday = scope.date_from - timedelta(days=scope.date_from.weekday())
    return timezone.make_aware(datetime.combine(monday, time.min))


def week_label(monday: date) -> str:
    return f"Week of {monday.day} {monday:%b %Y}"


def keep_figures(
    rows, scope: Filters, known: Catalogue, totals: queries.ToolsAndStyles, weekly: queries.Weeks
) -> list[Figure]:
    tools = [(known.tool_title(str(c.key)), c, _scoped(scope, tool=c.key)) for c in totals.per_tool]
    styles = [(_style_title(known, str(c.key)), c, _scoped(scope, style=c.key)) for c in totals.per_style]
    designers = [(str(c.key), c, _scoped(scope, designer=c.key)) for c in queries.by_designer(rows)]
    weeks = [(week_label(c.key), c, week_scope(scope, c.key)) for c in weekly.per_week]  # type: ignore[arg-type]
    return [
        rating_figure("keep-by-tool", "tool", tools),
        rating_figure("keep-by-style", "style", styles, " (results made without one left out)"),
        rating_figure("keep-by-designer", "designer", designers, " who made them here"),
        rating_figure(
            "keep-by-week", "week", weeks, f", Monday to Sunday: the latest {WEEKS_SHOWN} weeks of the range"
        ),
    ]


def _style_title(known: Catalogue, style_id: str) -> str:
    style = known.styles.get(style_id)
    return style.title if style else style_id.replace("_", " ").capitalize()


def input_figure(rows, scope: Filters) -> Figure:
    """Which garments and model photos give keepers and which fail: keep rate per image,
    best first, the most used images of each kind."""
    table = Table(
        [
            "kind",
            "image",
            "results",
            "finished",
            "kept (liked)",
            "disliked",
            "keep rate",
            "keep rate 95% interval",
            "keep rate note",
        ]
    )
    sections: dict[str, list[BarRow]] = {}
    found = queries.by_input(rows)
    found.sort(key=lambda each: (-(each.liked / each.finished if each.finished else -1), -each.finished))
    for each in found:
        kind = INPUT_KINDS.get(each.kind, each.kind.capitalize() or "Other inputs")
        images = _scoped(
            scope, inputs=(*scope.inputs, each.image_id) if each.image_id not in scope.inputs else scope.inputs
        )
        keepers = gallery_url(images, rating="liked")
        sections.setdefault(kind, []).append(
            BarRow(each.name, [rate_bar("Kept", "keep", each.liked, each.finished, keepers)])
        )
        table.rows.append(
            [
                Cell(kind),
                Cell(each.name),
                Cell(str(each.jobs), gallery_url(images)),
                Cell(str(each.finished), gallery_url(images, statuses=("complete", "error"))),
                Cell(str(each.liked), keepers),
                Cell(str(each.disliked), gallery_url(images, rating="disliked")),
                *rate_cells(each.liked, each.finished),
            ]
        )
    summary = "Keep rate (liked of finished) of the results made from each library image, best first."
    return Figure(
        "keep-by-input",
        "Keepers by input image",
        summary,
        [Section(k, v) for k, v in sections.items()],
        table,
        RATE_LEGEND[:1],
    )


# Pareto charts drawn per tool and per style: those with the most dislikes (all in the table).
PARETO_CHARTS = 4


def reasons_figure(rows, scope: Filters, known: Catalogue) -> Figure:
    """Dislike reasons as Pareto charts, per tool and per style: the reasons most given
    first, each bar its share of the reasons given, the mark the cumulative share."""
    table = Table(["by", "tool or style", "reason", "disliked results given it", "share", "cumulative share"])
    sections: list[Section] = []
    reasons = queries.reasons_by_tool_and_style(rows)
    for by, per_key, filter_name, title_of in (
        ("tool", reasons.per_tool, "tool", known.tool_title),
        ("style", reasons.per_style, "style", lambda style_id: _style_title(known, style_id)),
    ):
        charted: list[tuple[int, Section]] = []
        for key, counts in per_key.items():
            given = sorted(((n, code) for code, n in counts.items() if n), key=lambda pair: (-pair[0], pair[1]))
            total = sum(n for n, _ in given)
            if not total:
                continue
            bars, cumulative = [], 0
            for n, code in given:
                cumulative += n
                href = gallery_url(_scoped(scope, **{filter_name: key}), reason=code)
                label = Review.Reason(code).label
                text = f"{n} ({percent(n / total)}, cumulative {percent(cumulative / total)})"
                bars.append(
                    BarRow(label, [Bar("Reason given", "reason", n / total, text, href, n, marker=cumulative / total)])
                )
                table.rows.append(
                    [
                        Cell(by),
                        Cell(title_of(key)),
                        Cell(label),
                        Cell(str(n), href),
                        Cell(percent(n / total)),
                        Cell(percent(cumulative / total)),
                    ]
                )
            charted.append((total, Section(f"{by.capitalize()}: {title_of(key)}", bars)))
        charted.sort(key=lambda pair: -pair[0])
        sections += [section for _, section in charted[:PARETO_CHARTS]]
    summary = (
        f"Why results were disliked, the reason most given first: the {PARETO_CHARTS} tools and the "
        f"{PARETO_CHARTS} styles with the most dislikes (every tool and style in the numbers)."
    )
    return Figure(
        "dislike-reasons",
        "Dislike reasons",
        summary,
        sections,
        table,
        [("reason", "Share of the reasons given; the mark: cumulative share")],
    )


def time_figure(rows, scope: Filters, known: Catalogue, weekly: queries.Weeks) -> Figure:
    """Per tool and week: the median time to a result (the bar), its 95th percentile
    (the mark) and the failure rate (linked to the failed results)."""
    found = queries.time_to_result(rows, weeks_since(scope), weekly)
    longest = max((each.p95_seconds or each.median_seconds or 0 for each in found), default=0) or 1
    table = Table(
        [
            "tool",
            "week",
            "finished",
            "done",
            "failed",
            "failure rate",
            "failure rate 95% interval",
            "failure rate note",
            "timed",
            "median time to result (s)",
            "95th percentile (s)",
        ]
    )
    sections: dict[str, list[BarRow]] = {}
    for each in found:
        week = week_scope(_scoped(scope, tool=each.tool), each.week)
        done_url = gallery_url(week, statuses=("complete",))
        failed_url = gallery_url(week, statuses=("error",))
        bars = [rate_bar("Failed", "failed", each.failed, each.finished, failed_url)]
        if each.median_seconds is not None:
            times = f"median {duration(each.median_seconds)}, 95th percentile {duration(each.p95_seconds)}"
            text = f"{times} ({each.timed} timed)"
            marker = (each.p95_seconds or 0) / longest
            bars.insert(
                0,
                Bar("Time to result", "time", each.median_seconds / longest, text, done_url, each.done, marker=marker),
            )
        sections.setdefault(known.tool_title(each.tool), []).append(BarRow(week_label(each.week), bars))
        table.rows.append(
            [
                Cell(known.tool_title(each.tool)),
                Cell(each.week.isoformat()),
                Cell(str(each.finished), gallery_url(week, statuses=("complete", "error"))),
                Cell(str(each.done), done_url),
                Cell(str(each.failed), failed_url),
                *rate_cells(each.failed, each.finished),
                Cell(str(each.timed)),
                Cell("" if each.median_seconds is None else f"{each.median_seconds:.1f}"),
                Cell("" if each.p95_seconds is None else f"{each.p95_seconds:.1f}"),
            ]
        )
    summary = (
        f"Per tool and week (the latest {WEEKS_SHOWN} weeks of the range): median time from sending to result "
        "(bar) and its 95th percentile (mark), and the share of finished jobs that failed."
    )
    legend = [("time", "Median time to result; the mark: 95th percentile"), ("failed", "Failed of finished")]
    return Figure(
        "time-to-result",
        "Time to result and failures",
        summary,
        [Section(k, v) for k, v in sections.items()],
        table,
        legend,
    )


def jobs_per_keeper_figure(scope: Filters, known: Catalogue, totals: queries.ToolsAndStyles) -> Figure:
    """How many jobs the team sends for one result it keeps, overall and per tool."""
    groups = [("All tools", totals.overall, scope)]
    groups += [(known.tool_title(str(c.key)), c, _scoped(scope, tool=c.key)) for c in totals.per_tool]
    most = max((c.jobs / c.liked for _, c, _ in groups if c.liked), default=1)
    table = Table(["tool", "jobs", "kept (liked)", "jobs per keeper"])
    bar_rows = []
    for label, counts, group_scope in groups:
        jobs_url, keepers = gallery_url(group_scope), gallery_url(group_scope, rating="liked")
        ratio = counts.jobs / counts.liked if counts.liked else None
        text = (
            f"{ratio:.1f} ({counts.jobs} jobs, {counts.liked} kept)" if ratio else f"no keeper yet ({counts.jobs} jobs)"
        )
        bar_rows.append(
            BarRow(label, [Bar("Jobs per keeper", "jobs", (ratio or 0) / most, text, jobs_url, counts.jobs)])
        )
        table.rows.append(
            [
                Cell(label),
                Cell(str(counts.jobs), jobs_url),
                Cell(str(counts.liked), keepers),
                Cell(f"{ratio:.1f}" if ratio else ""),
            ]
        )
    summary = "Jobs sent (any status) for each result kept (liked), overall and per tool: fewer is better."
    return Figure(
        "jobs-per-keeper", "Jobs per keeper", summary, [Section("", bar_rows)], table, [("jobs", "Jobs per keeper")]
    )
