"""/insights/ on 100,000 indexed results: its server time cold (the figures not in the
cache: every aggregation runs) and warm (the figures from the cache), on SQLite and on
PostgreSQL (a private server, tests/support/services.py, stopped at the end).

The index is filled in the database with bulk_create (no upstream): 9 tools, ~20 styles,
88 % complete / 10 % failed / 2 % running, likes mixed (a third of the disliked given
reasons), created over a year with 5-120 s to a result, 2 % in the trash, 5 % made here
by 5 designers (Job rows, each from a garment and a model photo of 24 library images).
Then, in a process with the dashboard's settings (DEBUG=false, collected static files),
Django's test client asks for /insights/ as a logged-in designer: the server time is the
whole request through Django's middleware and template, without a network; "cold" clears
the cache before each request, "warm" asks again with the figures cached. Also with the
filters a designer uses most (a tool, the last 30 days). The load average is printed
beside each figure: the machine is shared.

Goals (issue 18): warm <= 150 ms, cold <= 1 s.

Run:  .venv/bin/python bench/insights.py                        (both databases, 100,000 rows)
      .venv/bin/python bench/insights.py --backends sqlite --rows 20000 --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from support import PYTHON, REPO, heading, install_signal_handlers, main_guard, say, write_settings

GOAL_WARM_MS, GOAL_COLD_MS = 150.0, 1000.0
DESIGNERS = ("bench", "ana", "bo", "chen", "dara")
CASES = {"everything": "", "one tool, last 30 days": "tool=fashion_swap&when=30d"}


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min, {os.cpu_count()} cores)"


# --- The Django half: fills the index and times the page, in a process of its own ----------


def fill(rows: int) -> None:
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from dashboard.models import IndexedResult, InputImage, Job, JobInput, SyncState
    from simulator.catalog import GENERATION_TYPES

    rng = random.Random(18)
    users = [get_user_model().objects.create_user(username=name, password="bench-password") for name in DESIGNERS]
    images = [
        InputImage.objects.create(
            owner=users[0],
            kind=kind,
            name=f"{kind} {n}",
            original_name=f"{kind}-{n}.png",
            file="x",
            thumbnail="x",
            content_type="image/png",
            size=1,
            width=1,
            height=1,
            in_library=True,
        )
        for kind in ("clothes", "person")
        for n in range(12)
    ]
    tools = list(GENERATION_TYPES)
    styles = {tool: [style.id for style in GENERATION_TYPES[tool]] for tool in tools}
    now = timezone.now()
    reasons = (" fit ", " colour ", " fit colour ", " garment ", " artefacts ", " lighting other ")
    batch, jobs, inputs = [], [], []
    for number in range(rows):
        tool = rng.choice(tools)
        status = rng.choices(("complete", "error", "pending"), (88, 10, 2))[0]
        like = rng.choices((True, False, None), (30, 12, 58))[0] if status == "complete" else None
        rating = {True: "liked", False: "disliked", None: "unrated"}[like]
        created = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
        made_here = rng.random() < 0.05
        item_id = f"bench{number:019d}"
        batch.append(
            IndexedResult(
                history_item_id=item_id,
                tool=tool,
                style_id=rng.choice(styles[tool] or [""]),
                status=status,
                raw_status=status,
                created_at=created,
                sort_at=created,
                seen_at=now,
                like=like,
                rating=rating,
                reasons=rng.choice(reasons) if rating == "disliked" and rng.random() < 0.33 else "",
                finished_at=None if status == "pending" else created + timedelta(seconds=rng.uniform(5, 120)),
                made_by=rng.choice(users) if made_here else None,
                in_trash=rng.random() < 0.02,
            )
        )
        if made_here:
            jobs.append(Job(history_item_id=item_id, designer=batch[-1].made_by, tool=tool, status=status))
        if len(batch) == 5000:
            IndexedResult.objects.bulk_create(batch)
            batch = []
    IndexedResult.objects.bulk_create(batch)
    for job in Job.objects.bulk_create(jobs):
        inputs.append(JobInput(job=job, slot="clothes", label="Garment", image=rng.choice(images[:12])))
        inputs.append(JobInput(job=job, slot="person", label="Model", image=rng.choice(images[12:]), position=1))
    JobInput.objects.bulk_create(inputs, batch_size=5000)
    SyncState.objects.create(name="history", version=1, first_sync_done=True)


def gather_statistics() -> None:
    """What the deployment does after such a fill: the sync's ANALYZE on SQLite, autovacuum's on PostgreSQL."""
    from django.db import connection

    from dashboard.index import services as index

    if connection.vendor == "sqlite":
        index.refresh_statistics()
        return
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def time_page(client, path: str) -> tuple[float, int]:
    """The server time of one request, in ms, and the page's size in bytes."""
    started = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code}")
    return elapsed, len(response.content)


def measure(rows: int, runs: int) -> dict:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    call_command("collectstatic", verbosity=0, interactive=False)
    started = time.perf_counter()
    fill(rows)
    gather_statistics()
    found = {"backend": connection.vendor, "fill_seconds": time.perf_counter() - started, "cases": {}}
    client = Client()
    client.force_login(get_user_model().objects.get(username=DESIGNERS[0]))
    for name, query in CASES.items():
        path = f"/insights/?{query}"
        cache.clear()
        first, size = time_page(client, path)  # the first ever: templates compiled, the database's pages read
        cold, warm = [], []
        for _ in range(runs):
            cache.clear()
            cold.append(time_page(client, path)[0])
            warm.append(time_page(client, path)[0])
        found["cases"][name] = {"first": first, "bytes": size, "cold": cold, "warm": warm, "load": load_average()}
    return found


# --- The bench: a temporary directory, a PostgreSQL when asked, one measuring process each --


def run_backend(backend: str, tmp: Path, stack: ExitStack, rows: int, runs: int) -> dict:
    if backend == "postgres":
        from tests.support.services import PostgresServer

        say("starting a private PostgreSQL (stopped at the end) ...")
        database_url = stack.enter_context(PostgresServer()).url
    else:
        database_url = f"sqlite:///{tmp / 'insights.sqlite3'}"
    out = tmp / f"{backend}.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp), str(REPO), str(REPO / "bench")]),
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-only",
        "HTTPS": "false",
        "ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(tmp / "media"),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    say(f"filling {rows:,} indexed results into {backend} and timing /insights/ ...")
    # subprocess.run kills the measuring process on any exception here (Ctrl-C, SIGTERM included).
    subprocess.run(
        [PYTHON, __file__, "--measure", str(out), "--rows", str(rows), "--runs", str(runs)],
        cwd=REPO,
        env=env,
        check=True,
        timeout=3600,
    )
    return json.loads(out.read_text())


def report(found: dict, runs: int) -> None:
    heading(f"/insights/ on {found['backend']} (filled in {found['fill_seconds']:.0f} s)")
    for name, case in found["cases"].items():
        cold, warm = case["cold"], case["warm"]
        say(f"{name}: first request {case['first']:.0f} ms, {case['bytes'] / 1024:.0f} KiB; {case['load']}")
        for label, values, goal in (("cold", cold, GOAL_COLD_MS), ("warm", warm, GOAL_WARM_MS)):
            median, worst = statistics.median(values), max(values)
            verdict = "met" if worst <= goal else "MISSED"
            say(
                f"  {label:4}: median {median:7.1f} ms, max {worst:7.1f} ms of {runs} (goal <= {goal:.0f} ms: {verdict})"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the measuring process: write figures here
    args = parser.parse_args()
    if args.measure:
        Path(args.measure).write_text(json.dumps(measure(args.rows, args.runs)))
        return 0
    install_signal_handlers()
    say(f"bench/insights.py: {args.rows:,} results, {args.runs} runs each; {load_average()}")
    with tempfile.TemporaryDirectory(prefix="insights-bench-") as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        write_settings(tmp)
        for backend in args.backends.split(","):
            report(run_backend(backend.strip(), tmp, stack, args.rows, args.runs), args.runs)
    return 0


if __name__ == "__main__":
    main_guard(main)
