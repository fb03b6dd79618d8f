"""The insights' numbers, counted by the database over the gallery's own result set
(gallery.history.matching): every query groups and counts there, and hands Python a
few rows per tool, style, designer, week or input image, never the results themselves.

Each count uses exactly the condition the gallery's filter of the same name applies
(rating=liked is a finished, complete result rated liked; reason=fit a disliked one
given it), so a bar's count and the total of the gallery it links to are one number.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import cast

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateField,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
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


def _summed(key, groups: list[RatingCounts]) -> RatingCounts:
    return RatingCounts(key, **{name: sum(getattr(group, name) for group in groups) for name in COUNTED})


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
    keyed = [(cast(tuple, pair.key), pair) for pair in pairs]
    tools = sorted({tool for (tool, _), _ in keyed if tool})
    styles = sorted({style for (_, style), _ in keyed if style})
    return ToolsAndStyles(
        per_tool=[_summed(tool, [pair for (of, _), pair in keyed if of == tool]) for tool in tools],
        per_style=[_summed(style, [pair for (_, of), pair in keyed if of == style]) for style in styles],
        overall=_summed("", pairs),
    )


class Outcome:
    """What became of a result, as one small number: its job's figures group by it, so
    the correlated lookup of the result runs once per job (a lookup named in a WHERE
    and in each conditional count ran once for each of them: twice as slow)."""

    RUNNING, FAILED, DONE, DISLIKED, LIKED = range(5)
    FINISHED = (FAILED, DONE, DISLIKED, LIKED)
    RATED = (DISLIKED, LIKED)


def outcome_of(rows: QuerySet, item_id: str, **also_equal: str) -> Subquery:
    """The Outcome of the result among `rows` whose upstream id is the outer query's
    `item_id` (NULL when the filters leave it out), and whose fields named in
    `also_equal` equal those outer fields."""
    outcome = Case(
        When(LIKED, then=Value(Outcome.LIKED)),
        When(DISLIKED, then=Value(Outcome.DISLIKED)),
        When(status=COMPLETE, then=Value(Outcome.DONE)),
        When(status=FAILED, then=Value(Outcome.FAILED)),
        default=Value(Outcome.RUNNING),
        output_field=IntegerField(),
    )
    outer = {field: OuterRef(outer_field) for field, outer_field in also_equal.items()}
    result = rows.order_by().filter(history_item_id=OuterRef(item_id), **outer).annotate(outcome=outcome)
    return Subquery(result.values("outcome")[:1])


def _counts_from_outcomes(key, jobs_per_outcome: dict[int, int]) -> RatingCounts:
    def jobs(*outcomes: int) -> int:
        return sum(jobs_per_outcome.get(outcome, 0) for outcome in outcomes)

    return RatingCounts(
        key=key,
        jobs=jobs(*range(5)),
        finished=jobs(*Outcome.FINISHED),
        failed=jobs(Outcome.FAILED),
        rated=jobs(*Outcome.RATED),
        liked=jobs(Outcome.LIKED),
    )


def by_designer(rows: QuerySet) -> list[RatingCounts]:
    """Per designer who made them here (results made elsewhere have none), by username.
    Counted from the jobs made here, few beside the index: each looks up its result among
    those the filters show by the index's unique id (as by_input does). Grouped over the
    index, SQLite walked every result of the trash's index, reading each row for its
    designer (390 ms at 100,000, against 60). A result's designer is its job's: the
    index copies it from there (index.services)."""
    grouped = (
        Job.objects.filter(designer__isnull=False)
        # The result as the gallery's designer filter finds it: made by this job's designer.
        .annotate(outcome=outcome_of(rows, "history_item_id", made_by_id="designer_id"))
        .values("designer__username", "outcome")
        .annotate(jobs=Count("id"))
        .order_by()
    )
    per_designer: dict[str, dict[int, int]] = {}
    for group in grouped:
        if group["outcome"] is not None:  # not among the results the filters show
            per_designer.setdefault(group["designer__username"], {})[group["outcome"]] = group["jobs"]
    return [_counts_from_outcomes(name, outcomes) for name, outcomes in sorted(per_designer.items())]


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


@dataclass(frozen=True)
class Weeks:
    per_tool_and_week: list[RatingCounts]  # keyed (tool, Monday)
    per_week: list[RatingCounts]  # keyed by the Monday


def by_week(rows: QuerySet, since: datetime) -> Weeks:
    """Per tool and week, and per week (Monday to Sunday in the server's time zone, as the
    gallery's dates are), from `since`: one pass grouped by both, summed per week here."""
    pairs: list[RatingCounts] = []
    per_week: dict[date, list[RatingCounts]] = {}
    for counts in _rating_counts(weeks_from(rows, since), "tool", "week"):
        tool, monday = cast(tuple, counts.key)
        pairs.append(replace(counts, key=(tool, _day(monday))))
        per_week.setdefault(_day(monday), []).append(counts)
    return Weeks(pairs, [_summed(monday, groups) for monday, groups in sorted(per_week.items())])


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
    does), the most used of each kind. The inputs of jobs made here are few beside the
    index: each looks up its result among those the filters show by the index's unique id
    (a correlated subquery, none when the filters leave it out), where a semi-join would
    read every result. Grouped by image and outcome (a job has one outcome, so the
    distinct jobs of an image's outcomes add up), a few rows per image."""
    grouped = (
        JobInput.objects.annotate(outcome=outcome_of(rows, "job__history_item_id"))
        .values("image_id", "image__kind", "image__name", "image__original_name", "outcome")
        .annotate(jobs=Count("job", distinct=True))
        .order_by()
    )
    images: dict[int, dict] = {}
    for group in grouped:
        if group["outcome"] is None:  # not among the results the filters show
            continue
        image = images.setdefault(group["image_id"], {**group, "outcomes": {}})
        image["outcomes"][group["outcome"]] = group["jobs"]
    found: list[InputCounts] = []
    per_kind: dict[str, int] = {}
    counted = [(image, _counts_from_outcomes(image_id, image["outcomes"])) for image_id, image in images.items()]
    for image, counts in sorted(counted, key=lambda pair: (-pair[1].jobs, pair[1].key)):
        kind = image["image__kind"]
        per_kind[kind] = per_kind.get(kind, 0) + 1
        if per_kind[kind] > INPUTS_PER_KIND:
            continue
        found.append(
            InputCounts(
                image_id=image["image_id"],
                kind=kind,
                name=image["image__name"] or image["image__original_name"].rsplit(".", 1)[0],
                jobs=counts.jobs,
                finished=counts.finished,
                liked=counts.liked,
                disliked=image["outcomes"].get(Outcome.DISLIKED, 0),
            )
        )
    return found


REASONS = Review.Reason


@dataclass(frozen=True)
class Reasons:
    per_tool: dict[str, dict[str, int]]  # tool: reason code: disliked results given it
    per_style: dict[str, dict[str, int]]


def reasons_by_tool_and_style(rows: QuerySet) -> Reasons:
    """Disliked results per reason, per tool and per style: one conditional count per
    reason over the disliked results grouped by tool and style together, summed here (a
    result given two reasons counts under each)."""
    counts = {code: Count("id", filter=Q(reasons__contains=f" {code} ")) for code in REASONS.values}
    grouped = rows.filter(DISLIKED).order_by().values("tool", "style_id").annotate(**counts).order_by()
    per_tool: dict[str, dict[str, int]] = {}
    per_style: dict[str, dict[str, int]] = {}
    for group in grouped:
        tool, style = group.pop("tool"), group.pop("style_id")
        for key, found in ((tool, per_tool), (style, per_style)):
            if key:  # results of no known tool, or made without a style: no filter shows them alone
                totals = found.setdefault(key, dict.fromkeys(REASONS.values, 0))
                for code, n in group.items():
                    totals[code] += n
    return Reasons(dict(sorted(per_tool.items())), dict(sorted(per_style.items())))


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


def time_to_result(rows: QuerySet, since: datetime, weeks: Weeks) -> list[TimeToResult]:
    """Per tool and week (the counts of `weeks`, by_week's over the same rows and
    `since`): failures, and the median and 95th percentile of the time from sending to
    result. The percentiles are nearest-rank, picked in the database: each
    done result is numbered within its tool and week by its duration (ROW_NUMBER) beside
    the group's size (COUNT over the same window), and only the rows at rank ceil(n/2)
    and ceil(0.95 n) come back, two rows a group (SQLite has no PERCENTILE_CONT)."""
    dated = weeks_from(rows, since).order_by()
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
    for each in weeks.per_tool_and_week:
        tool, week = cast(tuple, each.key)
        times = picked.get((tool, week), {})
        result.append(
            TimeToResult(
                tool=tool,
                week=week,
                finished=each.finished,
                failed=each.failed,
                done=each.finished - each.failed,
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
