"""The history index: page times on 100,000 indexed results (SQLite and PostgreSQL), the
sync's steady-state upstream calls a minute at 1k, 10k and 100k results, and the first
sync of 10,000 results at the upstream's rate limit.

1. pages. The index is filled directly in the database (bulk_create; no upstream): ~9
   tools and ~30 styles (the simulator's catalogue plus 10 more styles, kept as the sync
   keeps it, in SyncState.catalogue), 88 % complete / 10 % error / 2 % running, created
   over 2 years, likes mixed, 2 % in the trash, 5 % made by 5 designers here (Job rows
   with inputs from their library, a third of them in matrix runs), reviews with dislike
   reasons and notes, search_text made by dashboard.index.services.search_text. Then, for
   each filter case, through gunicorn (one sync worker, DEBUG=false, a logged-in session):
   the SERVER time of each request = gunicorn's own time on it (%(D)s of its access log),
   p50 / p95 / max of N runs after warm-ups, the cases taken round-robin so machine noise
   spreads evenly; plus the client's time to the response headers (TTFB, connect included).
   The SQL queries per page are counted in-process (Django's test client and
   CaptureQueriesContext, one request after a warm-up), with the slowest query and its
   plan. SQLite as bench_stack makes it, with the statistics the sync gathers after its
   first read (index.refresh_statistics; --no-analyze leaves them out); on
   PostgreSQL (a private server, tests/support/services.py) after migrate and the same
   fill, VACUUM ANALYZE (what autovacuum does shortly after such a fill).
   Goals: gallery p95 <= 30 ms under any filters, a lightbox step <= 30 ms, search <= 100 ms.

2. sync. The simulator is seeded with N results (~26 KB of images each: 100k is ~2.6 GB;
   free disk is checked first, the data is deleted after); `manage.py sync_index` (the
   Procfile's `sync`, default SYNC_* settings, SQLite) runs until SyncState.first_sync_done;
   then the upstream calls it makes in a steady-state window are counted from the
   simulator's request log, by duty: the running listing (status=pending), listing page 1
   (follow, every SYNC_FOLLOW_SECONDS; a sweep's first page is also page 1), listing pages
   2+ (the sweep), detail reads, the catalogue. The sweep period: pages x
   SYNC_SWEEP_PAGE_SECONDS, and as measured (sweep pages done in the window). At the
   smallest size also a "busy" window with one result running upstream.

2b. deletions. 1,000 results; 3 of them deleted upstream (not via the dashboard) once the
   first sync is done: the seconds until the index forgets them, with the sync's cache in
   its process memory (no REDIS_URL) and in a private Redis (REDIS_URL).

3. first-sync. 10,000 results, the simulator's rate limit set (e.g. 60/60), the time from
   the sync process's start to first_sync_done, the calls made, the 429s.

Prints figures; asserts nothing about them.

Run:  .venv/bin/python bench/history_index.py                 (everything; about 1 hour on 2 cores)
      .venv/bin/python bench/history_index.py --quick         (10k rows, 10 runs, sync at 1k, no 2b; ~6 min)
      .venv/bin/python bench/history_index.py --only pages --backends sqlite --rows 20000
      .venv/bin/python bench/history_index.py --only sync --sizes 1000,10000 --window 120
      .venv/bin/python bench/history_index.py --only first-sync --rate-limits 60/60
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import math
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import requests
from support import (
    PYTHON,
    REPO,
    USERNAME,
    SyncProcess,
    bench_stack,
    dashboard_env,
    heading,
    install_signal_handlers,
    main_guard,
    manage,
    percentile,
    row,
    say,
    small_jpeg,
    write_settings,
)

from tests.support.simulator import SimulatorProcess

# --- What is measured, and against what -------------------------------------------------

GOAL_PAGE_MS = 30.0  # gallery p95 under any filters, and a lightbox step
GOAL_SEARCH_MS = 100.0
ROWS = 100_000
RUNS, WARMUPS = 30, 3
SIZES = (1_000, 10_000, 100_000)
WINDOW_SECONDS = 150.0
BUSY_WINDOW_SECONDS = 60.0
FIRST_SYNC_COUNT = 10_000
RATE_LIMITS = ("60/60", "30/60")
# A plan is printed for a case's slowest query when it takes at least this long (or with --explain).
PLAN_MS = 10.0
# The simulator's images per seeded result (a 640x480 PNG and its WebP preview), with room to spare.
SEED_BYTES_PER_RESULT = 27_000
DELETED_PROBE = 3
PARTS = ("pages", "sync", "deletions", "first-sync")

# The data set: the designers here (the first is the bench's logged-in one) and their share.
DESIGNERS = (USERNAME, "ana", "bo", "chen", "dara")
DESIGNER_WEIGHTS = (25, 30, 20, 15, 10)
STATUS_WEIGHTS = {"complete": 88, "error": 10, "pending": 2}
LIKE_WEIGHTS = {True: 30, False: 12, None: 58}
YEARS = 2
MADE_HERE_SHARE = 0.05
IN_RUNS_SHARE = 0.35
TRASH_SHARE = 0.02
# Styles beyond the simulator's 20, to make ~30.
EXTRA_STYLES = {
    "fashion_swap": ("Runway", "Beach editorial"),
    "fashion_swap_half": ("Office portrait",),
    "fashion_card": ("Story frame",),
    "lego_clothes": ("Stop motion",),
    "mamasfit": ("Golden hour",),
    "lengerie": ("Editorial",),
    "furniture": ("Coastal",),
    "fabric": ("Swatch card",),
    "default": ("Enhance",),
}
INPUT_NAMES = {
    "clothes": ("linen summer dress", "velvet blazer", "denim jacket", "silk blouse", "wool coat", "pleated skirt"),
    "person": (
        "model anna front",
        "model li side",
        "model sam full",
        "model eva seated",
        "model joe walk",
        "model mia",
    ),
    "furniture": ("oak armchair", "velvet sofa", "walnut sideboard", "rattan chair", "marble table", "linen bed"),
    "room": ("loft living room", "bright kitchen", "nordic bedroom", "studio corner", "hotel lobby", "terrace"),
    "fabric": ("herringbone wool", "velvet crimson", "linen natural", "boucle cream", "raw denim", "jacquard floral"),
    "product": ("square cushion", "armchair frame", "curtain panel", "tote bag", "headboard", "ottoman"),
    "image": ("shoe flatlay", "bag studio", "watch macro", "lamp product", "vase still life", "chair cutout"),
}
TAGS = ("ss25", "fw24", "client-a", "client-b", "summer", "winter", "hero", "archive")
NOTES = (
    "sleeve too long",
    "velvet looks flat",
    "collar distorted",
    "lovely drape, use for the lookbook",
    "lighting too warm",
    "client favourite",
    "hands look odd",
    "colour off against the swatch",
)
# The searches: a frequent word (a style title), a rare one (inputs and notes), two words.
SEARCH_FREQUENT, SEARCH_RARE, SEARCH_TWO = "catalogue", "velvet", "studio white"


# --- Small helpers ----------------------------------------------------------------------


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min; {os.cpu_count()} cores)"


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        branch = git("rev-parse", "--abbrev-ref", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except OSError:
        return "unknown"
    return f"{head} ({branch}){' with uncommitted changes' if dirty else ''}" if head else "unknown"


def ms(seconds: float) -> float:
    return seconds * 1000


def gib(nbytes: float) -> str:
    return f"{nbytes / 1024**3:.2f} GiB"


def verdict(value: float, goal: float) -> str:
    return "met" if value <= goal else "MISSED"


def run_worker(env: dict[str, str], tmp: Path, command: str, *args: str, timeout: float = 3600) -> dict:
    """This script's Django half (`--worker ...`), in a process with the dashboard's settings."""
    out = tmp / f"worker-{command}-{time.monotonic_ns()}.json"
    completed = subprocess.run(
        [PYTHON, str(Path(__file__).resolve()), "--worker", command, "--out", str(out), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if completed.returncode != 0 or not out.exists():
        raise RuntimeError(f"worker {command} failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
    return json.loads(out.read_text())


# ========================================================================================
# The Django half: runs inside a worker process (DJANGO_SETTINGS_MODULE from the bench env)
# ========================================================================================


def bench_catalogue():
    """The simulator's 9 tools and 20 styles, plus 10 more styles: ~30."""
    from dashboard import genapi
    from dashboard.core.catalogue import Catalogue
    from simulator.catalog import GENERATION_TYPES, TOOLS

    tools = {tool.tool: genapi.Tool(name=tool.tool, title=tool.title, group=tool.group_tool) for tool in TOOLS}
    styles = {
        gtype.id: genapi.Style(id=gtype.id, title=gtype.title, tool=name)
        for name, types in GENERATION_TYPES.items()
        for gtype in types
    }
    for name, titles in EXTRA_STYLES.items():
        for title in titles:
            style_id = hashlib.sha1(f"bench:{name}:{title}".encode()).hexdigest()[:24]
            styles[style_id] = genapi.Style(id=style_id, title=title, tool=name)
    return Catalogue(tools=tools, styles=styles)


@dataclass
class Planned:
    """One result to be indexed, before its rows exist."""

    item_id: str
    created: datetime
    tool: str
    style_id: str
    status: str
    like: bool | None
    designer: object = None
    run: object = None
    job: object = None
    review: object = None
    in_trash: bool = False


class Filler:
    """Fills the index (and what it copies from: jobs, runs, inputs, reviews, the trash)."""

    def __init__(self, rows: int, seed: int) -> None:
        from django.contrib.auth import get_user_model
        from django.utils import timezone

        from simulator.seed import TOOL_WEIGHTS

        self.rows = rows
        self.rng = random.Random(seed)
        self.seed = seed
        self.now = timezone.now()
        self.known = bench_catalogue()
        users = {user.username: user for user in get_user_model().objects.filter(username__in=DESIGNERS)}
        self.designers = [users[name] for name in DESIGNERS]
        self.tool_names = list(TOOL_WEIGHTS)
        self.tool_weights = [TOOL_WEIGHTS[name] for name in self.tool_names]
        self.styles_of: dict[str, list[str]] = {}
        for style in self.known.styles.values():
            self.styles_of.setdefault(style.tool, []).append(style.id)
        self.planned: list[Planned] = []
        self.runs: list = []
        self.images: dict[tuple[int, str], list] = {}

    # --- The plan ---------------------------------------------------------------------

    def new_id(self, created: datetime) -> str:
        # ObjectId-shaped: 4 bytes of time, then this fill's seed and a counter.
        return f"{int(created.timestamp()) & 0xFFFFFFFF:08x}{self.seed & 0xFFFFFFFF:08x}{len(self.planned):08x}"

    def random_time(self) -> datetime:
        return self.now - timedelta(seconds=self.rng.uniform(60, YEARS * 365 * 86400))

    def random_tool(self) -> tuple[str, str]:
        tool = self.rng.choices(self.tool_names, self.tool_weights)[0]
        styles = self.styles_of.get(tool, [])
        return tool, (self.rng.choice(styles) if styles and self.rng.random() < 0.7 else "")

    def plan(self, created: datetime, tool: str, style_id: str, designer=None, run=None) -> None:
        status = self.rng.choices(list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values()))[0]
        like = self.rng.choices(list(LIKE_WEIGHTS), list(LIKE_WEIGHTS.values()))[0] if status == "complete" else None
        self.planned.append(
            Planned(self.new_id(created), created, tool, style_id, status, like, designer=designer, run=run)
        )

    def plan_all(self) -> None:
        from dashboard.models import Run
        from simulator.catalog import TOOLS_BY_NAME

        made_here = round(self.rows * MADE_HERE_SHARE)
        in_runs = round(made_here * IN_RUNS_SHARE)
        while sum(1 for p in self.planned if p.run is not None) < in_runs:
            designer = self.rng.choices(self.designers, DESIGNER_WEIGHTS)[0]
            tool, style_id = self.random_tool()
            slots = TOOLS_BY_NAME[tool].slots
            started = self.random_time()
            run = Run(
                designer=designer,
                designer_name=designer.username,
                tool=tool,
                tool_title=self.known.tool_title(tool),
                style_id=style_id,
                style_title=self.known.styles[style_id].title if style_id else "",
                row_slot=slots[0],
                row_label=slots[0].title(),
                column_slot=slots[1] if len(slots) > 1 else "",
                column_label=slots[1].title() if len(slots) > 1 else "",
                created_at=started,
            )
            self.runs.append(run)
            for cell in range(self.rng.randint(12, 48)):
                self.plan(started + timedelta(seconds=20 * cell), tool, style_id, designer, run)
        while len(self.planned) < made_here:
            self.plan(self.random_time(), *self.random_tool(), self.rng.choices(self.designers, DESIGNER_WEIGHTS)[0])
        while len(self.planned) < self.rows:
            self.plan(self.random_time(), *self.random_tool())
        for planned in self.rng.sample(self.planned, round(self.rows * TRASH_SHARE)):
            planned.in_trash = True

    # --- Rows beside the index ----------------------------------------------------------

    def make_images(self) -> None:
        from dashboard.models import InputImage

        made = []
        for number, designer in enumerate(self.designers):
            for kind, names in INPUT_NAMES.items():
                for index, name in enumerate(names):
                    tags = " ".join(self.rng.sample(TAGS, self.rng.randint(1, 3)))
                    image = InputImage(
                        owner=designer,
                        file=f"inputs/bench/{number}-{kind}-{index}.jpg",
                        thumbnail=f"thumbnails/bench/{number}-{kind}-{index}.webp",
                        original_name=f"{name.replace(' ', '_')}.jpg",
                        content_type="image/jpeg",
                        size=180_000,
                        width=1200,
                        height=1600,
                        created_at=self.now - timedelta(days=YEARS * 365),
                        name=name,
                        kind=kind,
                        tags=f" {tags} ",
                        in_library=True,
                        used_at=self.now - timedelta(days=YEARS * 365),
                    )
                    made.append(image)
                    self.images.setdefault((designer.pk, kind), []).append(image)
        InputImage.objects.bulk_create(made)

    def make_jobs(self) -> None:
        from dashboard.models import Job, JobInput, Run
        from simulator.catalog import TOOLS_BY_NAME

        Run.objects.bulk_create(self.runs)
        jobs, inputs = [], []
        for planned in self.planned:
            if planned.designer is None:
                continue
            finished = planned.created + timedelta(seconds=30) if planned.status != "pending" else None
            planned.job = Job(
                history_item_id=planned.item_id,
                designer=planned.designer,
                tool=planned.tool,
                tool_title=self.known.tool_title(planned.tool),
                style_id=planned.style_id,
                style_title=self.known.styles[planned.style_id].title if planned.style_id else "",
                created_at=planned.created,
                status=planned.status,
                error_message="The generation failed: processing error" if planned.status == "error" else "",
                finished_at=finished,
                run=planned.run,
            )
            jobs.append(planned.job)
        Job.objects.bulk_create(jobs, batch_size=1000)
        for planned in self.planned:
            if planned.job is None:
                continue
            for position, slot in enumerate(TOOLS_BY_NAME[planned.tool].slots):
                image = self.rng.choice(self.images[(planned.designer.pk, slot)])
                inputs.append(JobInput(job=planned.job, slot=slot, label=slot.title(), image=image, position=position))
        JobInput.objects.bulk_create(inputs, batch_size=1000)

    def make_reviews(self) -> None:
        from dashboard.models import Review

        reviews = []
        codes = [code for code in Review.Reason.values if code != "other"]
        for planned in self.planned:
            if planned.like is None:
                continue
            roll = self.rng.random()
            review = Review(history_item_id=planned.item_id)
            if planned.like is False and roll < 0.6:
                review.set_reasons(self.rng.sample(codes, self.rng.randint(1, 2)))
                review.note = self.rng.choice(NOTES) if self.rng.random() < 0.2 else ""
            elif roll < 0.04:
                review.note = self.rng.choice(NOTES)
            elif roll < 0.06:
                review.cleared, review.like_when_cleared = True, planned.like
            else:
                continue
            designer = self.rng.choices(self.designers, DESIGNER_WEIGHTS)[0]
            review.rated_by, review.rated_by_name = designer, designer.username
            review.rated_at = planned.created + timedelta(hours=1)
            planned.review = review
            reviews.append(review)
        Review.objects.bulk_create(reviews, batch_size=1000)

    def make_trash(self) -> None:
        from dashboard.models import TrashedResult

        TrashedResult.objects.bulk_create(
            [
                TrashedResult(
                    history_item_id=p.item_id,
                    trashed_by_name=self.rng.choice(DESIGNERS),
                    trashed_at=self.now - timedelta(days=self.rng.uniform(0, 29)),
                    title=self.known.tool_title(p.tool),
                    status=p.status,
                )
                for p in self.planned
                if p.in_trash
            ],
            batch_size=1000,
        )

    # --- The index ------------------------------------------------------------------------

    def indexed(self, planned: Planned):
        from dashboard.index import services as index
        from dashboard.models import IndexedResult

        complete, error = planned.status == "complete", planned.status == "error"
        finished = planned.created + timedelta(seconds=self.rng.uniform(3, 60)) if complete or error else None
        message = "The generation failed: processing error" if error else ""
        row = IndexedResult(
            history_item_id=planned.item_id,
            tool=planned.tool,
            style_id=planned.style_id,
            status=planned.status,
            raw_status=planned.status,
            created_at=planned.created,
            finished_at=finished,
            like=planned.like,
            rating=index.rating_of(planned.like, planned.review),
            reasons=planned.review.reasons if planned.review else "",
            preview_path=f"/image/generation_result/{planned.item_id}.webp" if complete else "",
            stock_path=f"/image/generation_result/{planned.item_id}.png" if complete else "",
            error_message=message,
            extra={
                "tool": planned.tool,
                "error": message or None,
                "finished_at": finished.strftime("%Y-%m-%dT%H:%M:%SZ") if finished else None,
            },
            sort_at=planned.created,
            made_by=planned.designer,
            run=planned.run,
            in_trash=planned.in_trash,
            seen_at=self.now,
        )
        row.search_text = index.search_text(row, self.known, planned.job, planned.review)
        return row

    def fill(self) -> None:
        from django.db import transaction

        from dashboard.models import IndexedResult, InputImage, Job, Run, SyncState

        # Rows as they would be after years of use: their own creation times, not now.
        for model in (Job, Run, InputImage):
            model._meta.get_field("created_at").auto_now_add = False  # type: ignore[attr-defined]
        with transaction.atomic():
            self.plan_all()
            self.make_images()
            self.make_jobs()
            self.make_reviews()
            self.make_trash()
            batch = []
            for planned in self.planned:
                batch.append(self.indexed(planned))
                if len(batch) >= 2000:
                    IndexedResult.objects.bulk_create(batch, batch_size=1000)
                    batch = []
            IndexedResult.objects.bulk_create(batch, batch_size=1000)
            SyncState.objects.update_or_create(
                name="history",
                defaults={
                    "catalogue": self.known.snapshot(),
                    "first_sync_done": True,
                    "upstream_total": self.rows,
                    "upstream_pages": math.ceil(self.rows / 100),
                    "last_contact_at": self.now,
                    "last_follow_at": self.now,
                    "last_running_at": self.now,
                },
            )


def vacuum_analyze(sqlite_too: bool) -> str:
    from django.db import connection

    from dashboard.index import services as index

    if connection.vendor != "postgresql":
        if not sqlite_too:
            return "SQLite: no statistics (--no-analyze: as before the sync's first read ends)"
        index.refresh_statistics()
        return "SQLite: index.refresh_statistics() after the fill, as the sync does after its first read"
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return "PostgreSQL: VACUUM ANALYZE after the fill (autovacuum would do it within minutes)"


def database_size() -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_total_relation_size('dashboard_indexedresult'), pg_database_size(current_database())"
            )
            table, whole = cursor.fetchone()
        return f"index table with its indexes {table / 1024**2:.0f} MiB; database {whole / 1024**2:.0f} MiB"
    name = Path(str(connection.settings_dict["NAME"]))
    size = sum(path.stat().st_size for path in name.parent.glob(name.name + "*"))
    return f"database file {size / 1024**2:.0f} MiB"


def facts_of(filler: Filler) -> dict:
    """What the cases need: ids to filter by, and lightbox items in the middle of their sets."""
    from django.contrib.auth import get_user_model
    from django.http import QueryDict

    from dashboard.gallery import history, pages
    from dashboard.models import IndexedResult

    user = get_user_model().objects.get(username=USERNAME)
    run_sizes = Counter(p.run for p in filler.planned if p.run is not None)
    run, run_size = sorted(run_sizes.items(), key=lambda pair: pair[1])[len(run_sizes) // 2]
    style = next(s for s in filler.known.styles.values() if s.tool == "fashion_swap" and s.title == "Studio white")
    lightbox = []
    for label, query in (
        ("all results", ""),
        ("tool=fashion_swap&status=complete", "tool=fashion_swap&status=complete"),
    ):
        filters = pages.read_filters(QueryDict(query))
        rows = history.matching(filters, user)
        total = rows.count()
        middle = total // 2
        item_id = rows.values_list("history_item_id", flat=True)[middle]
        page = middle // filters.limit + 1
        lightbox.append(
            {
                "label": label,
                "item": item_id,
                "query": "&".join(part for part in (query, f"page={page}") if part),
                "position": middle + 1,
                "of": total,
            }
        )
    visible = IndexedResult.objects.filter(in_trash=False).count()
    return {
        "rows": IndexedResult.objects.count(),
        "visible": visible,
        "tool": "fashion_swap",
        "style": style.id,
        "style_title": f"{filler.known.tool_title(style.tool)} / {style.title}",
        "reason": "fit",
        "run": run.pk,
        "run_size": run_size,
        "deep_page": 2000 if visible >= 2000 * 20 * 1.2 else max(2, visible // 20 * 2 // 5),
        "lightbox": lightbox,
        "designers": len(DESIGNERS),
        "jobs": sum(1 for p in filler.planned if p.job is not None),
        "runs": len(filler.runs),
        "reviews": sum(1 for p in filler.planned if p.review is not None),
        "styles": len(filler.known.styles),
        "tools": len(filler.known.tools),
    }


def worker_fill(rows: int, seed: int, analyze: bool) -> dict:
    started = time.monotonic()
    filler = Filler(rows, seed)
    filler.fill()
    filled = time.monotonic() - started
    analyzed = vacuum_analyze(analyze)
    facts = facts_of(filler)
    facts.update(fill_seconds=filled, analyze=analyzed, size=database_size())
    return facts


def explain(sql: str) -> list[str]:
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                return [line for (line,) in cursor.fetchall()]
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            depth: dict[int, int] = {0: -1}
            lines = []
            for node, parent, _, detail in cursor.fetchall():
                depth[node] = depth.get(parent, -1) + 1
                lines.append(f"{'  ' * depth[node]}{detail}")
            return lines
    except Exception as exc:  # a plan is a bonus; the figures stand without it
        return [f"(EXPLAIN failed: {exc})"]


def worker_measure(cases: list[dict]) -> dict:
    """Per case: the queries one request makes (after a warm-up), the slowest ones and a plan."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.http import QueryDict
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from dashboard.gallery import history, pages

    user = get_user_model().objects.get(username=USERNAME)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    measured = {}
    for case in cases:
        client.get(case["url"], headers=case["headers"])
        times: list[float] = []

        def timed(execute, sql, params, many, context, times=times):  # noqa: ANN001
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                times.append(time.perf_counter() - started)

        # CaptureQueriesContext has the SQL (its own times are rounded to 1 ms); the wrapper times it.
        with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(timed):
            started = time.perf_counter()
            response = client.get(case["url"], headers=case["headers"])
            elapsed = time.perf_counter() - started
        sqls = [q["sql"] for q in captured.captured_queries]
        if len(sqls) != len(times):
            times = [float(q["time"]) for q in captured.captured_queries]
        queries = sorted(((ms(t), sql) for t, sql in zip(times, sqls, strict=True)), reverse=True)
        results = None
        if case["kind"] != "lightbox":
            results = history.matching(pages.read_filters(QueryDict(case["query"])), user).count()
        measured[case["key"]] = {
            "status": response.status_code,
            "queries": len(queries),
            "sql_ms": sum(t for t, _ in queries),
            "in_process_ms": ms(elapsed),
            "top": [{"ms": t, "sql": sql} for t, sql in queries[:3]],
            "plan": explain(queries[0][1]) if queries else [],
            "results": results,
        }
    return measured


def worker_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="history_index.py --worker")
    parser.add_argument("command", choices=("fill", "measure"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases", type=Path)
    parser.add_argument("--analyze", action="store_true")
    args = parser.parse_args(argv)
    import django

    django.setup()
    if args.command == "fill":
        result = worker_fill(args.rows, args.seed, args.analyze)
    else:
        result = worker_measure(json.loads(args.cases.read_text()))
    args.out.write_text(json.dumps(result))
    return 0


# ========================================================================================
# Part 1: page times
# ========================================================================================


@dataclass
class Case:
    key: str
    label: str
    query: str = ""
    path: str = "/history/"
    kind: str = "gallery"  # "gallery", "search" or "lightbox"
    htmx: bool = False  # a lightbox step: htmx asks for the #lightbox fragment

    @property
    def url(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def headers(self) -> dict[str, str]:
        return {"HX-Request": "true", "HX-Target": "lightbox"} if self.htmx else {}

    @property
    def goal_ms(self) -> float:
        return GOAL_SEARCH_MS if self.kind == "search" else GOAL_PAGE_MS


def build_cases(facts: dict) -> list[Case]:
    today = datetime.now(UTC).date()
    tool, style = facts["tool"], facts["style"]
    custom = urlencode({"when": "custom", "from": today - timedelta(days=25), "to": today - timedelta(days=20)})
    cases = [
        Case("none", "no filter"),
        Case("error", "status=error", "status=error"),
        Case("tool", f"tool={tool}", f"tool={tool}"),
        Case("style", f"style=<{facts['style_title']}>", f"style={style}"),
        Case("7d", "when=7d", "when=7d"),
        Case("custom", "custom dates, 25 to 20 days ago", custom),
        Case("liked", "rating=liked", "rating=liked"),
        Case("reason", f"reason={facts['reason']} (disliked with it)", f"reason={facts['reason']}"),
        Case("mine", "mine=1", "mine=1"),
        Case("run", f"run=<id> (a run of {facts['run_size']})", f"run={facts['run']}"),
        Case("combo", f"tool={tool} + when=30d + rating=liked", f"tool={tool}&when=30d&rating=liked"),
        Case("style100", "status=complete + style + limit=100", f"status=complete&style={style}&limit=100"),
        Case("deep", f"page={facts['deep_page']} (deep page)", f"page={facts['deep_page']}"),
        Case("q1", f"q={SEARCH_FREQUENT} (frequent word)", urlencode({"q": SEARCH_FREQUENT}), kind="search"),
        Case("q_rare", f"q={SEARCH_RARE} (rare word)", urlencode({"q": SEARCH_RARE}), kind="search"),
        Case("q2", f"q={SEARCH_TWO} (two words)", urlencode({"q": SEARCH_TWO}), kind="search"),
    ]
    for number, box in enumerate(facts["lightbox"]):
        where = f"{box['label']}, item {box['position']:,} of {box['of']:,}"
        path = f"/history/{box['item']}/"
        cases.append(Case(f"step{number}", f"lightbox step (htmx): {where}", box["query"], path, "lightbox", True))
    box = facts["lightbox"][-1]
    cases.append(
        Case(
            "open",
            "lightbox opened as a page (gallery + lightbox)",
            box["query"],
            f"/history/{box['item']}/",
            "lightbox",
        )
    )
    return cases


@dataclass
class Timing:
    server: list[float] = field(default_factory=list)  # seconds, gunicorn's %(D)s
    ttfb: list[float] = field(default_factory=list)  # seconds, the client's wait for the headers
    size: int = 0


def time_pages(stack, cases: list[Case], runs: int, warmups: int) -> dict[str, Timing]:
    """Every case `warmups + runs` times, round-robin; server times from gunicorn's access log."""
    access_log = stack.tmp / "access.log"
    offset = access_log.stat().st_size if access_log.exists() else 0
    sent: list[tuple[Case, bool, float]] = []
    timings = {case.key: Timing() for case in cases}
    for round_number in range(warmups + runs):
        for case in cases:
            response = stack.session.get(stack.url(case.url), headers=case.headers, timeout=120)
            if response.status_code != 200:
                raise RuntimeError(f"{case.url} answered HTTP {response.status_code}")
            timings[case.key].size = len(response.content)
            sent.append((case, round_number >= warmups, response.elapsed.total_seconds()))
    time.sleep(0.5)
    with open(access_log, "rb") as log:
        log.seek(offset)
        lines = [line.split() for line in log.read().decode("utf-8", "replace").splitlines() if line.strip()]
    if len(lines) != len(sent) or any(line[1] != case.path for line, (case, _, _) in zip(lines, sent, strict=False)):
        raise RuntimeError(f"the access log has {len(lines)} lines for {len(sent)} requests, or other paths")
    for line, (case, counted, ttfb) in zip(lines, sent, strict=True):
        if counted:
            timings[case.key].server.append(int(line[3]) / 1e6)
            timings[case.key].ttfb.append(ttfb)
    return timings


@dataclass
class BackendResult:
    name: str
    facts: dict
    cases: list[Case]
    timings: dict[str, Timing]
    measured: dict[str, dict]
    upstream_calls: int


def pages_on(name: str, args: argparse.Namespace, database_url: str | None) -> BackendResult:
    extra = {"DATABASE_URL": database_url} if database_url else {}
    # sync=False: the index is filled directly (first_sync_done set); a sync against the
    # empty simulator would sweep and forget the filled rows, and its calls would count here.
    with bench_stack(
        f"history_index-{name}", usernames=DESIGNERS, dashboard_extra_env=extra, access_log=True, web="wsgi", sync=False
    ) as stack:
        say(f"  {name}: dashboard {stack.dashboard.description}, DEBUG=false; filling {args.rows:,} results...")
        fill_args = ["--rows", str(args.rows), "--seed", str(args.seed), *(["--analyze"] if args.analyze else [])]
        facts = run_worker(stack.env, stack.tmp, "fill", *fill_args)
        say(
            f"  filled in {facts['fill_seconds']:.0f} s: {facts['rows']:,} results ({facts['visible']:,} outside the trash),"
            f" {facts['tools']} tools, {facts['styles']} styles, {facts['jobs']:,} made here by {facts['designers']}"
            f" designers ({facts['runs']} runs), {facts['reviews']:,} reviews; {facts['size']}"
        )
        say(f"  {facts['analyze']}")
        cases = build_cases(facts)
        cases_file = stack.tmp / "cases.json"
        cases_file.write_text(
            json.dumps(
                [{"key": c.key, "url": c.url, "query": c.query, "kind": c.kind, "headers": c.headers} for c in cases]
            )
        )
        measured = run_worker(stack.env, stack.tmp, "measure", "--cases", str(cases_file))
        stack.sim.clear_requests()
        started = time.monotonic()
        timings = time_pages(stack, cases, args.runs, args.warmups)
        say(
            f"  timed {len(cases)} cases x {args.warmups} warm-up + {args.runs} runs in {time.monotonic() - started:.0f} s"
        )
        upstream = [e for e in stack.sim.requests() if not e["path"].startswith("/_simulator")]
        result = BackendResult(name, facts, cases, timings, measured, len(upstream))
        print_backend(result, args.explain)
        return result


def print_backend(result: BackendResult, explain_all: bool) -> None:
    heading(
        f"{result.name}: {result.facts['rows']:,} indexed results; server time (gunicorn %(D)s) in ms,"
        f" {len(next(iter(result.timings.values())).server)} runs each"
    )
    say(
        f"  {'case':<58} {'results':>8} {'p50':>7} {'p95':>7} {'max':>7} {'TTFB p50':>9} {'queries':>8} {'SQL ms':>7}"
        f" {'in-proc':>7} {'KB':>6}"
    )
    for case in result.cases:
        t, m = result.timings[case.key], result.measured[case.key]
        results = f"{m['results']:,}" if m["results"] is not None else "-"
        say(
            f"  {case.label[:58]:<58} {results:>8} {ms(percentile(t.server, 50)):7.1f} {ms(percentile(t.server, 95)):7.1f}"
            f" {ms(max(t.server)):7.1f} {ms(percentile(t.ttfb, 50)):9.1f} {m['queries']:>8} {m['sql_ms']:7.1f}"
            f" {m['in_process_ms']:7.1f} {t.size / 1000:6.1f}"
        )
    say("  results: how many results the filters match (lightbox: the set's size is in the label)")
    say("  queries / SQL ms / in-proc: one request in-process (test client, CaptureQueriesContext), after a warm-up:")
    say("  its queries, their time, and the whole request's time there (the rest of it is Python and templates)")
    say(f"  upstream calls during the timing: {result.upstream_calls} (the pages read only the index)")
    heading(
        f"{result.name}: slowest query per case (plan when it took >= {PLAN_MS:.0f} ms{', or always' if explain_all else ''})"
    )
    for case in result.cases:
        m = result.measured[case.key]
        if not m["top"]:
            continue
        top = m["top"][0]
        say(f"  {case.label}: {top['ms']:.1f} ms of {m['sql_ms']:.1f} ms SQL ({m['queries']} queries)")
        if top["ms"] >= PLAN_MS or explain_all:
            say(f"    SQL: {top['sql'][:1200]}")
            for line in m["plan"]:
                say(f"      {line}")


def print_side_by_side(results: list[BackendResult]) -> None:
    heading("page times side by side: server time p50 / p95 in ms (queries per page); goal on p95")
    width = 58
    header = "".join(f"  {r.name:>24}" for r in results)
    say(f"  {'case':<{width}}{header}  goal")
    for case in results[0].cases:
        cells, verdicts = [], []
        for r in results:
            t = r.timings[case.key]
            p95 = ms(percentile(t.server, 95))
            cells.append(
                f"  {ms(percentile(t.server, 50)):7.1f} / {p95:6.1f} ({r.measured[case.key]['queries']:>2})".rjust(26)
            )
            verdicts.append(f"{r.name} {verdict(p95, case.goal_ms)}")
        say(f"  {case.label[:width]:<{width}}{''.join(cells)}  <= {case.goal_ms:.0f}: {', '.join(verdicts)}")
    for r in results:
        missed = [c.label for c in r.cases if ms(percentile(r.timings[c.key].server, 95)) > c.goal_ms]
        say(
            f"  {r.name}: {len(r.cases) - len(missed)} of {len(r.cases)} cases meet their goal"
            + (f"; missed: {'; '.join(missed)}" if missed else "")
        )


def part_pages(args: argparse.Namespace) -> None:
    from tests.support.services import PostgresServer, ServiceError

    heading(f"1. pages on {args.rows:,} indexed results ({', '.join(args.backends)})")
    results = []
    for backend in args.backends:
        if backend == "sqlite":
            results.append(pages_on("SQLite", args, None))
            continue
        with ExitStack() as stack:
            try:
                pg = stack.enter_context(PostgresServer())
            except ServiceError as exc:
                say(f"  PostgreSQL: could not start a private server ({exc}); skipped")
                continue
            say(f"  PostgreSQL: private server on 127.0.0.1:{pg.port} (fsync off, as the tests run it)")
            results.append(pages_on("PostgreSQL", args, pg.url))
    if results:
        print_side_by_side(results)


# ========================================================================================
# Part 2 and 3: the sync process against the simulator
# ========================================================================================


def sync_state(db: Path) -> dict:
    """SyncState and the index's size, read from the SQLite file (read-only, beside the sync)."""
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
            conn.row_factory = sqlite3.Row
            found = conn.execute("SELECT * FROM dashboard_syncstate WHERE name = 'history'").fetchone()
            counts = conn.execute("SELECT COUNT(*), SUM(status = 'pending') FROM dashboard_indexedresult").fetchone()
    except sqlite3.OperationalError:
        return {}
    state = dict(found) if found else {}
    state["indexed"], state["pending"] = counts[0], counts[1] or 0
    return state


def seed_simulator(data_dir: Path, count: int) -> tuple[float, int]:
    """`python -m simulator seed`; the seconds it took and the bytes it wrote."""
    started = time.monotonic()
    completed = subprocess.run(
        [PYTHON, "-m", "simulator", "seed", "--count", str(count), "--data-dir", str(data_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"seeding failed:\n{completed.stdout}{completed.stderr}")
    seconds = time.monotonic() - started
    size = sum(entry.stat().st_size for entry in data_dir.rglob("*") if entry.is_file())
    return seconds, size


def sync_settings(env: dict[str, str]) -> dict:
    names = (
        "SYNC_RUNNING_SECONDS",
        "SYNC_FOLLOW_SECONDS",
        "SYNC_SWEEP_PAGE_SECONDS",
        "SYNC_CALLS_PER_MINUTE",
        "SYNC_IDLE_SECONDS",
        "GENAPI_ITEM_CACHE_SECONDS",
    )
    code = (
        "import json\nfrom django.conf import settings\nfrom dashboard.index import sync\n"
        f"values = {{name: getattr(settings, name) for name in {names!r}}}\n"
        "values.update(PAGE_SIZE=sync.PAGE_SIZE, FIRST_SYNC_PAGES_PER_TICK=sync.FIRST_SYNC_PAGES_PER_TICK,"
        " SWEEP_READS_PER_PAGE=sync.SWEEP_READS_PER_PAGE, CATALOGUE_SECONDS=sync.CATALOGUE_SECONDS)\n"
        "print('SETTINGS ' + json.dumps(values))\n"
    )
    output = manage(env, "shell", "-c", code)
    line = next(line for line in output.splitlines() if line.startswith("SETTINGS "))
    return json.loads(line.removeprefix("SETTINGS "))


def duty_of(entry: dict) -> str:
    path, query = entry["path"], parse_qs(entry["query"])
    if path == "/user/generation-history":
        if "status" in query:
            return "running: listing status=pending"
        page = int(query.get("page", ["1"])[0])
        return "listing page 1 (follow; a sweep's first page)" if page == 1 else "listing pages 2+ (first sync / sweep)"
    if path.startswith("/user/generation-history/"):
        return "detail reads (one result)"
    if path == "/generation/tools" or path == "/generation/generationTypes":
        return "catalogue (tools, styles)"
    return f"other: {entry['method']} {path}"


DUTIES = (
    "running: listing status=pending",
    "listing page 1 (follow; a sweep's first page)",
    "listing pages 2+ (first sync / sweep)",
    "detail reads (one result)",
    "catalogue (tools, styles)",
)


def api_entries(sim: SimulatorProcess) -> list[dict]:
    return [e for e in sim.requests() if not e["path"].startswith("/_simulator")]


def print_duties(entries: list[dict], seconds: float | None, indent: str = "    ") -> None:
    """Calls by duty, and a minute's worth of them over `seconds` (None: counts only)."""
    by_duty = Counter(duty_of(e) for e in entries)

    def rate(count: int) -> str:
        return f"  {count / (seconds / 60):6.1f} a minute" if seconds else ""

    for duty in [*DUTIES, *sorted(set(by_duty) - set(DUTIES))]:
        count = by_duty.get(duty, 0)
        say(f"{indent}{duty:<48} {count:>5} calls{rate(count)}")
    statuses = Counter(e["status"] for e in entries)
    total = sum(by_duty.values())
    say(
        f"{indent}{'all':<48} {total:>5} calls{rate(total)}"
        f"  (HTTP {', '.join(f'{code}: {n}' for code, n in sorted(statuses.items()))})"
    )


def max_in_window(times: list[float], window: float = 60.0) -> int:
    times = sorted(times)
    best = 0
    for index, start in enumerate(times):
        best = max(best, bisect.bisect_left(times, start + window) - index)
    return best


@dataclass
class SweepWatch:
    """Sweep progress sampled from SyncState during a window."""

    pages_done: int = 0
    finished_at: list[str] = field(default_factory=list)

    def sample(self, before: dict, after: dict) -> None:
        if before.get("sweep_page") != after.get("sweep_page"):
            self.pages_done += 1
        done = after.get("last_sweep_finished_at")
        if done and done != before.get("last_sweep_finished_at"):
            self.finished_at.append(done)


def watch_window(db: Path, seconds: float, sync: SyncProcess) -> tuple[SweepWatch, float]:
    watch = SweepWatch()
    started = time.monotonic()
    previous = sync_state(db)
    while time.monotonic() - started < seconds:
        time.sleep(0.5)
        if not sync.alive():
            raise RuntimeError(f"the sync process exited:\n{sync.log_tail()}")
        current = sync_state(db)
        if current:
            watch.sample(previous, current)
            previous = current
    return watch, time.monotonic() - started


@dataclass
class FirstSync:
    done: bool
    seconds: float  # from the sync process's start to first_sync_done, or to giving up
    state: dict
    # A stall: no first-sync page for `stall` seconds (the last page's wall-clock time).
    stalled_since: float | None = None


def wait_first_sync(db: Path, sync: SyncProcess, timeout: float, stall: float) -> FirstSync:
    """Until SyncState.first_sync_done, no new page for `stall` seconds, or `timeout`; progress every 2 minutes."""
    next_note = time.monotonic() + 120
    page, page_at, page_wall = None, time.monotonic(), time.time()
    while True:
        if not sync.alive():
            raise RuntimeError(f"the sync process exited:\n{sync.log_tail()}")
        state = sync_state(db)
        now = time.monotonic()
        if state.get("first_sync_done"):
            return FirstSync(True, now - sync.started, state)
        if state.get("first_sync_page") != page:
            page, page_at, page_wall = state.get("first_sync_page"), now, time.time()
        if now - page_at > stall or now - sync.started > timeout:
            return FirstSync(False, now - sync.started, state, stalled_since=page_wall)
        if now >= next_note:
            say(
                f"      ... {now - sync.started:4.0f} s: page {state.get('first_sync_page')} of"
                f" {state.get('upstream_pages')}, {state.get('indexed', 0):,} indexed"
            )
            next_note = now + 120
        time.sleep(0.5)


def report_stall(first: FirstSync, entries: list[dict], sync: SyncProcess) -> None:
    """What a first sync that stopped moving shows: its state, and the calls made since its last page."""
    state, since = first.state, first.stalled_since or 0.0
    after = [e for e in entries if e["at"] >= since]
    say(
        f"    FIRST SYNC STALLED: page {state.get('first_sync_page')} of {state.get('upstream_pages')}"
        f" ({state.get('indexed', 0):,} indexed) unchanged for {time.time() - since:.0f} s"
        f" ({first.seconds:.0f} s after the process started); the process is alive"
    )
    say(
        f"      SyncState: last_follow_at {state.get('last_follow_at')}, last_running_at {state.get('last_running_at')},"
        f" last_contact_at {state.get('last_contact_at')}, problem {state.get('problem')!r}"
    )
    say(f"      upstream calls since its last page ({len(after)}):")
    print_duties(after, None, indent="        ")
    genapi_lines = [line for line in sync.log_tail(4000).splitlines() if " genapi " in line]
    say(
        f"      the sync's log, last upstream calls: {' | '.join(line[11:23] + line.split('genapi', 2)[-1] for line in genapi_lines[-4:])}"
    )


def sync_env(tmp: Path, sim: SimulatorProcess) -> dict[str, str]:
    env = dashboard_env(tmp, sim)
    write_settings(tmp)
    manage(env, "migrate", "--no-input", "-v", "0")
    return env


def free_disk(path: Path) -> int:
    return shutil.disk_usage(path).free


def enough_disk(count: int) -> bool:
    need = count * SEED_BYTES_PER_RESULT * 1.3 + 500 * 1024**2
    free = free_disk(Path(tempfile.gettempdir()))
    if free < need:
        say(f"    skipped: {gib(free)} free in {tempfile.gettempdir()}, {gib(need)} needed")
        return False
    say(f"    disk: {gib(free)} free in {tempfile.gettempdir()} (about {gib(count * SEED_BYTES_PER_RESULT)} needed)")
    return True


def delete_upstream(sim: SimulatorProcess, db: Path, count: int) -> list[str]:
    """Delete `count` finished results from the middle of the history, upstream only."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        total = conn.execute("SELECT COUNT(*) FROM dashboard_indexedresult").fetchone()[0]
        ids = [
            item_id
            for (item_id,) in conn.execute(
                "SELECT history_item_id FROM dashboard_indexedresult WHERE status = 'complete'"
                " ORDER BY sort_at DESC LIMIT ? OFFSET ?",
                (count, total // 2),
            )
        ]
    for item_id in ids:
        requests.delete(f"{sim.base_url}/user/generation-history/{item_id}", headers=sim.headers, timeout=10)
    return ids


def rows_of(db: Path, ids: list[str]) -> dict[str, str]:
    """history_item_id -> seen_at of those rows still in the index."""
    marks = ",".join("?" * len(ids))
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        return dict(
            conn.execute(
                f"SELECT history_item_id, seen_at FROM dashboard_indexedresult WHERE history_item_id IN ({marks})", ids
            ).fetchall()
        )


def start_running_job(sim: SimulatorProcess, seconds: float) -> None:
    sim.configure(job_seconds=seconds)
    response = requests.post(
        f"{sim.base_url}/generation/generate_image_v2/",
        headers=sim.headers,
        data={"tool": "default"},
        files={"image": ("photo.jpg", small_jpeg(7), "image/jpeg")},
        timeout=30,
    )
    response.raise_for_status()


def steady_state(size: int, args: argparse.Namespace, settings: dict | None) -> dict | None:
    say(f"\n  {size:,} results")
    if not enough_disk(size):
        return None
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"bench-history_index-sync{size}-")))
        seconds, nbytes = seed_simulator(tmp / "simulator", size)
        say(f"    seeded {size:,} results in {seconds:.0f} s ({gib(nbytes)} in the simulator's data dir)")
        sim = stack.enter_context(SimulatorProcess(tmp / "simulator"))
        env = sync_env(tmp, sim)
        settings = settings or sync_settings(env)
        db = tmp / "db.sqlite3"
        if args.fast_first_sync:
            catch_up(env, "--fast-first-sync")
        sync = stack.enter_context(SyncProcess(env, tmp / "sync.log"))
        pages = math.ceil(size / settings["PAGE_SIZE"])
        if not args.fast_first_sync:
            first = wait_first_sync(db, sync, timeout=max(600.0, pages * 3.0), stall=args.stall_seconds)
            entries = api_entries(sim)
            if first.done:
                say(
                    f"    first sync (the process, paced): {first.seconds:.0f} s ({first.seconds / 60:.1f} min) for"
                    f" {pages} pages; {len(entries)} upstream calls, the most in any 60 s:"
                    f" {max_in_window([e['at'] for e in entries])}, 429s: {sum(e['status'] == 429 for e in entries)}"
                )
            else:
                report_stall(first, entries, sync)
                sync.__exit__()
                catch_up(env, "to measure the steady state after the stall")
                sync = stack.enter_context(SyncProcess(env, tmp / "sync.log"))
                time.sleep(5)  # its first tick: the catalogue, the running listing, follow
        idle_after = wait_idle(sim, db)
        sim.clear_requests()
        before = sync_state(db)
        watch, elapsed = watch_window(db, args.window, sync)
        entries = api_entries(sim)
        after = sync_state(db)
        say(
            f"    steady state: {elapsed:.0f} s, from {idle_after:.0f} s after the first sync"
            " (once nothing runs upstream or in the index):"
        )
        print_duties(entries, elapsed)
        report_sweep(size, settings, watch, elapsed, before, after)
        busy = None
        if args.busy_window > 0 and size == min(args.sizes):
            busy = busy_window(sim, db, sync, args.busy_window)
        catalogue = sum(duty_of(e) == DUTIES[4] for e in entries)
        return {
            "size": size,
            "entries": len(entries),
            "catalogue": catalogue,
            "seconds": elapsed,
            "watch": watch,
            "busy": busy,
        }


def catch_up(env: dict[str, str], why: str) -> None:
    started = time.monotonic()
    manage_long(env, "sync_index", "--once")
    say(f"    first sync finished by `sync_index --once` (unpaced; {why}): {time.monotonic() - started:.0f} s")


def manage_long(env: dict[str, str], *args: str) -> None:
    completed = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=7200
    )
    if completed.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{completed.stdout}{completed.stderr}")


def sweep_seconds(size: int, settings: dict) -> float:
    return math.ceil(size / settings["PAGE_SIZE"]) * settings["SYNC_SWEEP_PAGE_SECONDS"]


def report_sweep(size: int, settings: dict, watch: SweepWatch, elapsed: float, before: dict, after: dict) -> None:
    pages = math.ceil(size / settings["PAGE_SIZE"])
    planned = sweep_seconds(size, settings)
    rate = watch.pages_done / elapsed if elapsed else 0
    measured = f"{pages / rate:.0f} s ({pages / rate / 60:.1f} min)" if rate else "no sweep page done"
    say(
        f"    sweep: {pages} pages x {settings['SYNC_SWEEP_PAGE_SECONDS']:g} s = {planned:.0f} s ({planned / 60:.1f} min)"
        f" planned; measured {watch.pages_done} pages in {elapsed:.0f} s = {rate * 60:.1f} pages a minute -> a sweep"
        f" every {measured}; sweeps completed in the window: {len(watch.finished_at)}"
        f" (sweep page {before.get('sweep_page')} -> {after.get('sweep_page')})"
    )


def wait_idle(sim: SimulatorProcess, db: Path, timeout: float = 120.0) -> float:
    """Until nothing runs upstream nor in the index (the seeded running results end 10-40 s
    after seeding); the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        listing = requests.get(
            f"{sim.base_url}/user/generation-history",
            params={"status": "pending", "limit": 1},
            headers=sim.headers,
            timeout=10,
        )
        if listing.json().get("total_count") == 0 and sync_state(db).get("pending", 0) == 0:
            break
        time.sleep(1)
    return time.monotonic() - started


def busy_window(sim: SimulatorProcess, db: Path, sync: SyncProcess, seconds: float) -> dict:
    start_running_job(sim, seconds + 120)
    deadline = time.monotonic() + 60
    while sync_state(db).get("pending", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    sim.clear_requests()
    watch, elapsed = watch_window(db, seconds, sync)
    entries = api_entries(sim)
    say(f"    busy: {elapsed:.0f} s with one result running upstream (the index holds it as running):")
    print_duties(entries, elapsed)
    return {"entries": len(entries), "seconds": elapsed}


def part_sync(args: argparse.Namespace) -> None:
    heading(f"2. steady-state sync cost at {', '.join(f'{s:,}' for s in args.sizes)} results (SQLite)")
    settings = None
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-history_index-settings-")))
        sim = stack.enter_context(SimulatorProcess(tmp / "simulator"))
        settings = sync_settings(sync_env(tmp, sim))
    say("  the sync's settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    catalogue_calls = 1 + 9
    say(
        f"  expected when idle: follow {60 / settings['SYNC_FOLLOW_SECONDS']:.0f}/min + sweep"
        f" {60 / settings['SYNC_SWEEP_PAGE_SECONDS']:.0f}/min + catalogue {catalogue_calls} calls every"
        f" {settings['CATALOGUE_SECONDS']} s ({catalogue_calls * 60 / settings['CATALOGUE_SECONDS']:.0f}/min);"
        f" the running listing every {settings['SYNC_RUNNING_SECONDS']:g} s only while the index holds running results"
    )
    summary = []
    for size in args.sizes:
        try:
            found = steady_state(size, args, settings)
        except Exception as exc:  # one size's failure is reported; the others still run
            say(f"    FAILED at {size:,} results: {type(exc).__name__}: {str(exc)[-2000:]}")
            continue
        if found:
            summary.append(found)
    if summary:
        heading("steady-state sync cost: summary")
        for found in summary:
            pages = math.ceil(found["size"] / settings["PAGE_SIZE"])
            rate = found["watch"].pages_done / found["seconds"] if found["seconds"] else 0
            busy = found["busy"]
            busy_text = f"; busy: {busy['entries'] / (busy['seconds'] / 60):.1f} a minute" if busy else ""
            outside = " (+2 for the catalogue, read outside the window)" if not found["catalogue"] else ""
            say(
                f"  {found['size']:>7,} results: {found['entries'] / (found['seconds'] / 60):5.1f} upstream calls a minute"
                f" idle{outside}{busy_text}; sweep period {sweep_seconds(found['size'], settings) / 60:.1f} min planned"
                + (f", {pages / rate / 60:.1f} min measured" if rate else "")
            )


def first_sync_at_limit(count: int, limit: str, stall: float) -> None:
    say(f"\n  {count:,} results, simulator rate limit {limit} (requests / seconds, per key)")
    if not enough_disk(count):
        return
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-history_index-first-")))
        seconds, nbytes = seed_simulator(tmp / "simulator", count)
        say(f"    seeded in {seconds:.0f} s ({gib(nbytes)})")
        sim = stack.enter_context(SimulatorProcess(tmp / "simulator", env={"SIMULATOR_RATE_LIMIT": limit}))
        env = sync_env(tmp, sim)
        db = tmp / "db.sqlite3"
        sim.clear_requests()
        with SyncProcess(env, tmp / "sync.log") as sync:
            first = wait_first_sync(db, sync, timeout=max(900.0, count / 100 * 6.0), stall=stall)
            entries = api_entries(sim)
            state = sync_state(db)
            if not first.done:
                report_stall(first, entries, sync)
        log = (tmp / "sync.log").read_text(errors="replace")
        accepted = [e["at"] for e in entries if e["status"] != 429]
        took = first.seconds
        say(
            f"    first sync {'done' if first.done else 'NOT done (stalled)'} after {took:.0f} s ({took / 60:.1f} min,"
            f" from the process's start); {state.get('first_sync_page')} pages, {state.get('indexed', 0):,} indexed"
        )
        say(
            f"    {len(entries)} upstream calls in {took:.0f} s, {sum(e['status'] == 429 for e in entries)} answered 429;"
            f" the most in any 60 s: {max_in_window([e['at'] for e in entries])} sent,"
            f" {max_in_window(accepted)} accepted (the limit: {limit})"
        )
        print_duties(entries, None)
        warned = log.count("the upstream failed")
        say(
            f"    the sync's log: {warned} 'the upstream failed' warning(s); SyncState.problem: {state.get('problem')!r}"
        )


def deletion_probe(count: int, cache: str, timeout: float, stall: float) -> None:
    """Results deleted upstream behind the dashboard's back: how long until the index forgets them."""
    from tests.support.services import RedisServer, ServiceError

    say(f"\n  {count:,} results; the sync's cache: {cache}")
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-history_index-deleted-")))
        seed_simulator(tmp / "simulator", count)
        sim = stack.enter_context(SimulatorProcess(tmp / "simulator"))
        extra = {}
        if cache == "redis":
            try:
                redis_server = stack.enter_context(RedisServer())
            except ServiceError as exc:
                say(f"    skipped: no Redis ({exc})")
                return
            extra["REDIS_URL"] = redis_server.url
        env = dashboard_env(tmp, sim, **extra)
        write_settings(tmp)
        manage(env, "migrate", "--no-input", "-v", "0")
        db = tmp / "db.sqlite3"
        sync = stack.enter_context(SyncProcess(env, tmp / "sync.log"))
        if not wait_first_sync(db, sync, timeout=600, stall=stall).done:
            raise RuntimeError("the first sync stalled")
        wait_idle(sim, db)
        deleted = delete_upstream(sim, db, DELETED_PROBE)
        deleted_at = datetime.now(UTC)
        started = time.monotonic()
        sim.clear_requests()
        forgotten: dict[str, float] = {}
        seen_again: set[str] = set()
        watch = SweepWatch()
        previous = sync_state(db)
        while len(forgotten) < len(deleted) and time.monotonic() - started < timeout:
            time.sleep(1)
            if not sync.alive():
                raise RuntimeError(f"the sync process exited:\n{sync.log_tail()}")
            current = sync_state(db)
            watch.sample(previous, current)
            previous = current
            left = rows_of(db, deleted)
            for item_id in deleted:
                if item_id not in left:
                    forgotten.setdefault(item_id, time.monotonic() - started)
                elif datetime.fromisoformat(str(left[item_id])).replace(tzinfo=UTC) > deleted_at:
                    seen_again.add(item_id)
        elapsed = time.monotonic() - started
        reads = Counter(
            (e["path"].rsplit("/", 1)[1], e["status"])
            for e in api_entries(sim)
            if e["path"].startswith("/user/generation-history/")
        )
    times = ", ".join(f"{forgotten[i]:.0f} s" if i in forgotten else f"not within {elapsed:.0f} s" for i in deleted)
    say(f"    {len(deleted)} results deleted upstream (from the middle of the history), forgotten after: {times}")
    say(
        f"    meanwhile {len(watch.finished_at)} complete sweep(s) ({watch.pages_done} sweep pages);"
        f" {len(seen_again)} of them marked seen again (seen_at moved) after their deletion;"
        f" upstream detail reads of them: {sum(n for (i, code), n in reads.items() if i in deleted and code == 200)}"
        f" answered 200, {sum(n for (i, code), n in reads.items() if i in deleted and code == 404)} answered 404"
    )


def part_deletions(args: argparse.Namespace) -> None:
    heading(
        f"2b. results deleted upstream (not via the dashboard): when the sweep notices, at {args.deletion_count:,} results"
    )
    say("  The sweep reads on their own the rows a page does not show; genapi.item() answers a finished result")
    say("  from the cache (GENAPI_ITEM_CACHE_SECONDS) when a listing showed it lately. The cache is the process's")
    say("  memory without REDIS_URL (LocMemCache, 300 entries at most), Redis with it (no such bound).")
    for cache in args.deletion_caches:
        try:
            deletion_probe(args.deletion_count, cache, args.deletion_timeout, args.stall_seconds)
        except Exception as exc:  # reported; the other cache still runs
            say(f"    FAILED with the {cache} cache: {type(exc).__name__}: {str(exc)[-2000:]}")


def part_first_sync(args: argparse.Namespace) -> None:
    heading(f"3. first sync of {args.first_sync_count:,} results at the upstream's rate limit")
    for limit in args.rate_limits:
        try:
            first_sync_at_limit(args.first_sync_count, limit, args.stall_seconds)
        except Exception as exc:  # reported; the other limits still run
            say(f"    FAILED at {limit}: {type(exc).__name__}: {str(exc)[-2000:]}")


# ========================================================================================


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        help="comma-separated parts: pages, sync, deletions, first-sync (default all; --quick: no deletions)",
    )
    parser.add_argument("--quick", action="store_true", help="10k rows, 10 runs, sync at 1k, first sync of 2,000")
    parser.add_argument("--rows", type=int, help=f"indexed results for the page times (default {ROWS:,})")
    parser.add_argument("--runs", type=int, help=f"timed runs per case (default {RUNS})")
    parser.add_argument("--warmups", type=int, help=f"warm-up runs per case (default {WARMUPS})")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--explain", action="store_true", help="print every case's slowest query and its plan")
    parser.add_argument("--seed", type=int, default=1, help="the fill's random seed")
    parser.add_argument(
        "--no-analyze",
        dest="analyze",
        action="store_false",
        help="leave SQLite without statistics (the sync gathers them after its first read)",
    )
    parser.add_argument("--sizes", help="comma-separated history sizes for the sync (default 1000,10000,100000)")
    parser.add_argument("--window", type=float, help=f"steady-state window in seconds (default {WINDOW_SECONDS:.0f})")
    parser.add_argument(
        "--busy-window",
        type=float,
        help=f"seconds with a result running, at the smallest size (default {BUSY_WINDOW_SECONDS:.0f}; 0: none)",
    )
    parser.add_argument(
        "--fast-first-sync",
        action="store_true",
        help="reach the steady state by `sync_index --once` (unpaced) instead of the process's paced first sync",
    )
    parser.add_argument("--deletion-count", type=int, default=1_000, help="results for part deletions (default 1,000)")
    parser.add_argument(
        "--deletion-caches", default="local,redis", help="comma-separated: local (process memory), redis (default both)"
    )
    parser.add_argument(
        "--deletion-timeout", type=float, default=900.0, help="seconds to wait for the index to forget (default 900)"
    )
    parser.add_argument(
        "--stall-seconds",
        type=float,
        default=240.0,
        help="a first sync with no new page for this long is reported as stalled (default 240)",
    )
    parser.add_argument("--first-sync-count", type=int, help=f"results for part 3 (default {FIRST_SYNC_COUNT:,})")
    parser.add_argument("--rate-limits", help="comma-separated simulator rate limits for part 3 (default 60/60,30/60)")
    args = parser.parse_args()
    quick = args.quick
    only = args.only or ("pages,sync,first-sync" if quick else ",".join(PARTS))
    args.only = [part.strip() for part in only.split(",") if part.strip()]
    unknown = set(args.only) - set(PARTS)
    if unknown:
        parser.error(f"--only: unknown part(s) {', '.join(sorted(unknown))}")
    args.backends = [name.strip().lower() for name in args.backends.split(",") if name.strip()]
    if set(args.backends) - {"sqlite", "postgresql"}:
        parser.error("--backends: sqlite and/or postgresql")
    args.rows = args.rows or (10_000 if quick else ROWS)
    args.runs = args.runs or (10 if quick else RUNS)
    args.warmups = args.warmups if args.warmups is not None else (2 if quick else WARMUPS)
    args.sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else ([1_000] if quick else list(SIZES))
    args.window = args.window or (60.0 if quick else WINDOW_SECONDS)
    if args.busy_window is None:
        args.busy_window = 30.0 if quick else BUSY_WINDOW_SECONDS
    args.first_sync_count = args.first_sync_count or (2_000 if quick else FIRST_SYNC_COUNT)
    limits = args.rate_limits.split(",") if args.rate_limits else (["60/60"] if quick else list(RATE_LIMITS))
    args.rate_limits = [limit.strip() for limit in limits if limit.strip()]
    args.deletion_caches = [name.strip() for name in args.deletion_caches.split(",") if name.strip()]
    if set(args.deletion_caches) - {"local", "redis"}:
        parser.error("--deletion-caches: local and/or redis")
    return args


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker_main(sys.argv[2:])
    args = parse_args()
    install_signal_handlers()
    heading("history index: page times, the sync's steady-state cost, the first sync at the rate limit")
    row("commit", git_commit())
    row("machine", f"{os.cpu_count()} cores (shared: expect noise)")
    row("load average at start", load_average())
    row("parts", ", ".join(args.only) + (" (--quick)" if args.quick else ""))
    started = time.monotonic()
    if "pages" in args.only:
        part_pages(args)
    if "sync" in args.only:
        part_sync(args)
    if "deletions" in args.only:
        part_deletions(args)
    if "first-sync" in args.only:
        part_first_sync(args)
    heading("end")
    row("load average at end", load_average())
    row("took", f"{(time.monotonic() - started) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    main_guard(main)
