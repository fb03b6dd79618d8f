"""The insights' numbers, counted by the database over the gallery's own result set
(gallery.history.matching): every query groups and counts there, and hands Python a
few rows per tool, style, designer, week or input image, never the results themselves.

Each count uses exactly the condition the gallery's filter of the same name applies
(rating=liked is a finished, complete result rated liked; reason=fit a disliked one
given it), so a bar's count and the total of the gallery it links to are one number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from django.db import connection
from django.db.models import Count, DateField, F, FloatField, Func, OuterRef, Q, QuerySet, Subquery, Window
from django.db.models.functions import RowNumber, TruncWeek
from django.utils import timezone

from dashboard import genapi
from dashboard.models import IndexedResult, Job, JobInput, Review

Rating = IndexedResult.Rating
COMPLETE, FAILED = genapi.Status.COMPLETE, genapi.Status.ERROR

FINISHED = Q(status__in=[COMPLETE, FAILED])
LIKED = Q(status=COMPLETE, rating=Rating.LIKED)
RATED = Q(status=COMPLETE, rating__in=[Rating.LIKED, Rating.DISLIKED])
DISLIKED = Q(status=COMPLETE, rating=Rating.DISLIKED)

# Library images per kind the by-input figure lists at most (the most used first).
INPUTS_PER_KIND = 40


@dataclass(frozen=True)
class RatingCounts:
    """How a group of results was received: the basis of keep rate and like rate."""

    key: str | date | tuple
    jobs: int  # every result, running ones too
    finished: int  # done or failed
    failed: int
    rated: int  # liked or disliked
    liked: int  # the keepers


def _rating_counts(rows: QuerySet, *fields: str) -> list[RatingCounts]:
    """The counts per value of `fields` (its key: the value, or the values together)."""
    grouped = (
        rows.order_by()
        .values(*fields)
        .annotate(
            jobs=Count("id"),
            finished=Count("id", filter=FINISHED),
            failed=Count("id", filter=Q(status=FAILED)),
            rated=Count("id", filter=RATED),
            liked=Count("id", filter=LIKED),
        )
        .order_by(*fields)
    )
    found = []
    for group in grouped:
        values = tuple(group.pop(field) for field in fields)
        found.append(RatingCounts(key=values if len(values) > 1 else values[0], **group))
    return found


COUNTED = ("jobs", "finished", "failed", "rated", "liked")


@dataclass(frozen=True)
class ToolsAndStyles:
    per_tool: list[RatingCounts]  # results of no known tool left out (no filter could show them)
    per_style: list[RatingCounts]  # results made without a style left out (no filter shows them alone)
    overall: RatingCounts


def by_tool_and_style(rows: QuerySet) -> ToolsAndStyles:
    """Per tool, per style and overall, from one pass over the results grouped by tool
    and style together (some tens of groups), summed here: each pass over 100,000
    results costs SQLite 100 to 200 ms."""
    pairs = _rating_counts(rows, "tool", "style_id")

    def summed(key: str, groups: list[RatingCounts]) -> RatingCounts:
        return RatingCounts(key, **{name: sum(getattr(group, name) for group in groups) for name in COUNTED})

    keyed = [(cast(tuple, pair.key), pair) for pair in pairs]
    tools = sorted({tool for (tool, _), _ in keyed if tool})
    styles = sorted({style for (_, style), _ in keyed if style})
    return ToolsAndStyles(
        per_tool=[summed(tool, [pair for (of, _), pair in keyed if of == tool]) for tool in tools],
        per_style=[summed(style, [pair for (_, of), pair in keyed if of == style]) for style in styles],
        overall=summed("", pairs),
    )


def by_designer(rows: QuerySet) -> list[RatingCounts]:
    """Per designer who made them here (results made elsewhere have none), by username.
    Counted from the jobs made here, few beside the index: each looks up its result among
    those the filters show by the index's unique id (as by_input does). Grouped over the
    index, SQLite walked every result of the trash's index, reading each row for its
    designer (390 ms at 100,000, against 60). A result's designer is its job's: the
    index copies it from there (index.services)."""
    result = rows.order_by().filter(history_item_id=OuterRef("history_item_id"), made_by_id=OuterRef("designer_id"))
    grouped = (
        Job.objects.filter(designer__isnull=False)
        .annotate(
            result_status=Subquery(result.values("status")[:1]),
            result_rating=Subquery(result.values("rating")[:1]),
        )
        .filter(result_status__isnull=False)
        .values("designer__username")
        .annotate(
            jobs=Count("id"),
            finished=Count("id", filter=Q(result_status__in=[COMPLETE, FAILED])),
            failed=Count("id", filter=Q(result_status=FAILED)),
            rated=Count("id", filter=Q(result_status=COMPLETE, result_rating__in=[Rating.LIKED, Rating.DISLIKED])),
            liked=Count("id", filter=Q(result_status=COMPLETE, result_rating=Rating.LIKED)),
        )
        .order_by("designer__username")
    )
    return [
        RatingCounts(
            key=group["designer__username"],
            jobs=group["jobs"],
            finished=group["finished"],
            failed=group["failed"],
            rated=group["rated"],
            liked=group["liked"],
        )
        for group in grouped
    ]


class MondayInUtc(Func):
    """The Monday that starts a UTC datetime's week, in SQLite's own date functions
    ('weekday 0' is the coming Sunday, or the day itself): TruncWeek calls a Python
    function for every row there, 10 times slower over 100,000 rows."""

    template = "date(%(expressions)s, 'weekday 0', '-6 days')"
    output_field = DateField()


def week_of(field: str) -> Func:
    """The Monday starting each result's week in the server's time zone, as the gallery's dates count."""
    if connection.vendor == "sqlite" and timezone.get_current_timezone_name() == "UTC":
        return MondayInUtc(field)
    return TruncWeek(field)


def weeks_from(rows: QuerySet, since: datetime) -> QuerySet:
    return rows.filter(created_at__isnull=False, created_at__gte=since).annotate(week=week_of("created_at"))


def by_week(rows: QuerySet, since: datetime) -> list[RatingCounts]:
    """Per week (Monday to Sunday in the server's time zone, as the gallery's dates are), from `since`."""
    dated = weeks_from(rows, since)
    return [RatingCounts(**{**counts.__dict__, "key": _day(counts.key)}) for counts in _rating_counts(dated, "week")]


@dataclass(frozen=True)
class InputCounts:
    image_id: int
    kind: str
    name: str
    jobs: int
    finished: int
    liked: int
    disliked: int


def by_input(rows: QuerySet) -> list[InputCounts]:
    """Per library image the results were made from, counted per distinct job (an image
    used in two slots of one job counts that result once, as the gallery's input filter
    does). The inputs of jobs made here are few beside the index: each looks up its
    result among those the filters show by the index's unique id (a correlated subquery,
    none when the filters leave it out), where a semi-join would read every result."""
    result = rows.order_by().filter(history_item_id=OuterRef("job__history_item_id"))
    grouped = (
        JobInput.objects.annotate(
            result_status=Subquery(result.values("status")[:1]),
            result_rating=Subquery(result.values("rating")[:1]),
        )
        .filter(result_status__isnull=False)
        .values("image_id", "image__kind", "image__name", "image__original_name")
        .annotate(
            jobs=Count("job", distinct=True),
            finished=Count("job", distinct=True, filter=Q(result_status__in=[COMPLETE, FAILED])),
            liked=Count("job", distinct=True, filter=Q(result_status=COMPLETE, result_rating=Rating.LIKED)),
            disliked=Count("job", distinct=True, filter=Q(result_status=COMPLETE, result_rating=Rating.DISLIKED)),
        )
        .order_by("-jobs", "image_id")
    )
    found: list[InputCounts] = []
    per_kind: dict[str, int] = {}
    for group in grouped[: INPUTS_PER_KIND * 8]:
        kind = group["image__kind"]
        per_kind[kind] = per_kind.get(kind, 0) + 1
        if per_kind[kind] > INPUTS_PER_KIND:
            continue
        name = group["image__name"] or group["image__original_name"].rsplit(".", 1)[0]
        found.append(
            InputCounts(
                image_id=group["image_id"],
                kind=kind,
                name=name,
                jobs=group["jobs"],
                finished=group["finished"],
                liked=group["liked"],
                disliked=group["disliked"],
            )
        )
    return found


REASONS = Review.Reason


def reasons_by(rows: QuerySet, field: str) -> dict[str, dict[str, int]]:
    """Disliked results per reason, per tool or style: one conditional count per reason
    over the disliked results (a result given two reasons counts under each)."""
    counts = {code: Count("id", filter=Q(reasons__contains=f" {code} ")) for code in REASONS.values}
    grouped = rows.filter(DISLIKED).exclude(**{field: ""}).order_by().values(field).annotate(**counts).order_by(field)
    return {group.pop(field): group for group in grouped}


class SecondsBetween(Func):
    """The seconds from the second expression to the first, in the database."""

    output_field = FloatField()
    arg_joiner = " - "
    template = "EXTRACT(EPOCH FROM (%(expressions)s))"

    def as_sqlite(self, compiler, connection, **extra):
        later, earlier = (compiler.compile(each) for each in self.get_source_expressions())
        return f"((julianday({later[0]}) - julianday({earlier[0]})) * 86400.0)", (*later[1], *earlier[1])


@dataclass(frozen=True)
class TimeToResult:
    tool: str
    week: date
    finished: int
    failed: int
    done: int
    timed: int  # done results whose start and end are both known
    median_seconds: float | None
    p95_seconds: float | None


def time_to_result(rows: QuerySet, since: datetime) -> list[TimeToResult]:
    """Per tool and week: failures, and the median and 95th percentile of the time from
    sending to result. The percentiles are nearest-rank, picked in the database: each
    done result is numbered within its tool and week by its duration (ROW_NUMBER) beside
    the group's size (COUNT over the same window), and only the rows at rank ceil(n/2)
    and ceil(0.95 n) come back, two rows a group (SQLite has no PERCENTILE_CONT)."""
    dated = weeks_from(rows, since).order_by()
    counts = dated.values("tool", "week").annotate(
        finished=Count("id", filter=FINISHED),
        failed=Count("id", filter=Q(status=FAILED)),
        done=Count("id", filter=Q(status=COMPLETE)),
    )
    group = [F("tool"), F("week")]
    ranked = (
        dated.filter(status=COMPLETE, finished_at__isnull=False)
        .annotate(
            seconds=SecondsBetween("finished_at", "created_at"),
            rank=Window(RowNumber(), partition_by=group, order_by=[F("seconds").asc(), F("id").asc()]),
            size=Window(Count("id"), partition_by=group),
        )
        # Integer division: (n + 1) / 2 is ceil(n / 2); (95 n + 99) / 100 is ceil(0.95 n).
        .filter(Q(rank=(F("size") + 1) / 2) | Q(rank=(F("size") * 95 + 99) / 100))
        .values_list("tool", "week", "rank", "size", "seconds")
    )
    picked: dict[tuple, dict] = {}
    for tool, week, rank, size, seconds in ranked:
        found = picked.setdefault((tool, _day(week)), {"timed": size})
        if rank == (size + 1) // 2:
            found["median_seconds"] = seconds
        if rank == (size * 95 + 99) // 100:
            found["p95_seconds"] = seconds
    result = []
    for each in counts.order_by("tool", "week"):
        week = _day(each["week"])
        times = picked.get((each["tool"], week), {})
        result.append(
            TimeToResult(
                tool=each["tool"],
                week=week,
                finished=each["finished"],
                failed=each["failed"],
                done=each["done"],
                timed=times.get("timed", 0),
                median_seconds=times.get("median_seconds"),
                p95_seconds=times.get("p95_seconds"),
            )
        )
    return result


def _day(week) -> date:
    if isinstance(week, datetime):
        return timezone.localtime(week).date() if timezone.is_aware(week) else week.date()
    return week
