"""Scaling out: two dashboard instances sharing PostgreSQL, Redis and S3, behind a round robin.

Starts, all private to this run on free loopback ports and stopped at the end (also on
Ctrl-C, SIGTERM or an error): a PostgreSQL and a Redis (tests/support/services.py), moto's
S3 server with a bucket, and the simulator seeded with SEED_ITEMS history items, its jobs
staying pending for the whole run. Migrates once, creates the designers, then runs TWO
instances of the Procfile's web process on two ports with the same environment, as production
runs N instances behind a balancer: DATABASE_URL (PostgreSQL, no pool), REDIS_URL,
MEDIA_STORAGE=s3, DEBUG=false, WEB_CONCURRENCY uvicorn workers each with WEB_THREADS 8 and
--keep-alive 10 (README "Deployment"), and beside each instance the sync process
(`manage.py sync_index`, default SYNC_* pacing): two of them, as when every machine runs
the whole Procfile; only the one holding the lease calls the upstream, the other waits.
The run starts once the sync has read the seeded history.

Every request, of every designer, goes to the next instance in turn (a round-robin
balancer without sticky sessions), so a designer logged in on one instance is served by
both: sessions, the job rate limit and the caches have to be shared for that to work.
Each designer (bench/load.py's Designer, sending its requests through the balancer):

  1. opens Generate (GET /), sends JOBS_PER_DESIGNER jobs with two ~50 KB photos each
     (POST / as htmx does; the photos are kept in S3), opens Generate again and loads the
     input thumbnails its tray shows (GET /inputs/<id>/thumbnail, read back from S3), and
     opens History (GET /history/, whose newest cards are the team's running jobs);
  2. until the deadline, browses finished results as in load.py: a gallery page, 4
     previews, a result's details (the lightbox), a rating;

while a second thread polls as the two open pages do, every TRAY_SECONDS: the tray
(GET /jobs/tray?seen=<fingerprint>, 204 when nothing changed) and the gallery's running
cards (GET /history/poll?ids=..., 204 likewise). The polls read the index in PostgreSQL
and make no upstream call; the sync holding the lease alone follows the running jobs, with
one status=pending listing per SYNC_RUNNING_SECONDS (100 results a page: the 90 jobs take
one) for the whole deployment, however many instances and polls. The upstream calls are
counted by the process that made them (each instance's and each sync's own log), and the
running listings from the simulator's access log, against the number of polls.

Reported: requests per second; p50 / p95 latency overall, per instance and per kind; errors
(any status outside 2xx/3xx, a failed request, an error notice in a page, a poll or image
answered wrongly); jobs sent; upstream calls per process and per request; the sync's
running listings per second against polls per second; objects in the bucket; PostgreSQL connections at the peak (pg_stat_activity, sampled
every 0.25 s).

Run: .venv/bin/python bench/scale_out.py [--designers 30] [--duration 40] [--workers 2]
(prints figures; asserts nothing about them; exit 1 only when it could not run)
"""

from __future__ import annotations

import argparse
import html
import itertools
import os
import re
import secrets
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import load  # bench/load.py: the designer's behaviour and how answers are judged
import requests
from load import STALE_CONNECTION, Designer, Record, Sample, designer_name, failure, notice_in, photo_jpeg
from support import (
    Gunicorn,
    SyncProcess,
    children,
    dashboard_env,
    heading,
    install_signal_handlers,
    is_pending_listing,
    log_size,
    logged_calls,
    login,
    main_guard,
    percentile,
    prepare_database,
    row,
    say,
    wait_for_index,
    write_settings,
)

from tests.support.services import PostgresServer, RedisServer, S3Server, ServiceError
from tests.support.simulator import SimulatorError, SimulatorProcess

INSTANCES = 2
DESIGNERS = 30
DURATION = 40.0
WORKERS = 2  # WEB_CONCURRENCY per instance
THREADS = 8
JOBS_PER_DESIGNER = 3  # 90 running jobs: one page of the sync's pending listing (100 a page)
SEED_ITEMS = 300
TRAY_SECONDS = 2.0  # the tray's and the gallery poller's interval while jobs run
INPUTS_TO_LOAD = 4
REQUEST_TIMEOUT = 30.0
BUCKET = "nextry-bench-inputs"
PG_MAX_CONNECTIONS = 60
SYNC_RUNNING_SECONDS = 1.0  # dashboard/settings.py's default (2 s before the windows), left as it is
KINDS = (
    "generate page",
    "job creation",
    "input",
    "history page",
    "gallery",
    "preview",
    "details",
    "feedback",
    "tray",
    "gallery poll",
)
POLLS = ("tray", "gallery poll")

TRAY_POLLER = re.compile(r'hx-get="(/jobs/tray\?seen=[0-9a-f]+)"')
GALLERY_POLLER = re.compile(r'id="gallery-poller"[^>]*?hx-get="([^"]+)"')
INPUT_THUMBNAIL = re.compile(r'src="(/inputs/\d+/thumbnail)"')


# --- The balancer and the designers ------------------------------------------------------


class Balancer:
    """Round robin over the instances, request by request (no sticky sessions)."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def pick(self) -> int:
        with self._lock:
            return next(self._turn) % len(self.urls)


@dataclass
class Hit(Sample):
    instance: int = 0


def judge(kind: str, response: requests.Response) -> str:
    """load.judge, plus the polls' empty answers and the pages and images only this bench asks for."""
    status = response.status_code
    if kind in POLLS and status in (204, 286):
        return "ok" if status == 204 else "polling stopped (286) while jobs run"
    if kind == "input":
        if status != 200:
            return f"HTTP {status}"
        kind_of = response.headers.get("Content-Type", "")
        return "ok" if kind_of.startswith("image/") else f"not an image ({kind_of or 'no type'})"
    if kind in ("generate page", "history page", "gallery poll"):
        if status != 200:
            return f"HTTP {status}"
        return notice_in(response.text) or "ok"
    return load.judge(kind, response)


class BalancedDesigner(Designer):
    """load.py's designer, each request sent to the instance the balancer picks."""

    def __init__(
        self,
        n: int,
        session: requests.Session,
        balancer: Balancer,
        record: Record,
        deadline: float,
        images: list[bytes],
    ):
        super().__init__(n, session, balancer.urls[0], record, deadline, images)
        self.balancer = balancer
        self.tray_path = "/jobs/tray"
        self.gallery_poll_path: str | None = None

    def call(
        self, kind: str, method: str, path: str, session: requests.Session | None = None, **kwargs
    ) -> requests.Response | None:
        started = time.monotonic()
        instance = self.balancer.pick()
        url = f"{self.balancer.urls[instance]}{path}"
        for attempt in (1, 2):
            try:
                response = (session or self.session).request(
                    method, url, allow_redirects=False, timeout=REQUEST_TIMEOUT, **kwargs
                )
                _ = response.content  # read the whole body inside the timing
                break
            except requests.RequestException as exc:
                # A kept-alive connection closed just as it was reused: a browser sends the
                # GET again on a new connection, and so do we (counted, not an error).
                if attempt == 1 and method == "GET" and failure(exc) in STALE_CONNECTION:
                    with self.record.lock:
                        self.retried[kind] += 1
                    continue
                self.record.add(
                    Hit(kind, started - self.record.started, time.monotonic() - started, 0, failure(exc), instance)
                )
                return None
        elapsed = time.monotonic() - started
        self.record.add(
            Hit(kind, started - self.record.started, elapsed, response.status_code, judge(kind, response), instance)
        )
        return response

    def send_jobs(self) -> None:
        for j in range(JOBS_PER_DESIGNER):
            if self.left() <= 0:
                return
            k = self.n * JOBS_PER_DESIGNER + j
            response = self.call(
                "job creation",
                "POST",
                "/",
                data={
                    "tool": "fashion_swap",
                    "submission": secrets.token_urlsafe(18),
                    "csrfmiddlewaretoken": self.session.cookies["csrftoken"],
                },
                files={
                    "clothes": ("garment.jpg", self.images[k % len(self.images)], "image/jpeg"),
                    "person": ("model.jpg", self.images[(k + 3) % len(self.images)], "image/jpeg"),
                },
                headers=self.headers("/", **{"HX-Request": "true", "HX-Target": "generate-form"}),
            )
            if response is not None and "Job sent" in response.text:
                self.jobs_sent += 1
            self.first_job.set()
            self.think()

    def run(self) -> None:
        try:
            self.call("generate page", "GET", "/")
            self.think()
            self.send_jobs()
            if self.left() <= 0:
                return
            page = self.call("generate page", "GET", "/")
            if page is not None and page.status_code == 200:
                for src in list(dict.fromkeys(INPUT_THUMBNAIL.findall(page.text)))[:INPUTS_TO_LOAD]:
                    if self.left() <= 0:
                        return
                    self.call("input", "GET", src, headers=self.headers("/"))
            self.think()
            if self.left() <= 0:
                return
            page = self.call("history page", "GET", "/history/")
            if page is not None and page.status_code == 200 and (found := GALLERY_POLLER.search(page.text)):
                self.gallery_poll_path = html.unescape(found.group(1))
            self.think()
            self.browse()
        finally:
            self.first_job.set()  # never leave the polling thread waiting

    def poll_tray(self) -> None:
        """The open Generate page's tray and the open History page's poller, every TRAY_SECONDS."""
        session = requests.Session()
        session.cookies.update(self.session.cookies)
        self.first_job.wait(max(0.0, self.left()))
        time.sleep(max(0.0, min(self.rng.uniform(0, TRAY_SECONDS), self.left())))
        while self.left() > 0:
            response = self.call(
                "tray", "GET", self.tray_path, session=session, headers=self.headers("/", **{"HX-Request": "true"})
            )
            if response is not None and response.status_code == 200 and (found := TRAY_POLLER.search(response.text)):
                self.tray_path = html.unescape(found.group(1))
            if self.gallery_poll_path and self.left() > 0:
                path = self.gallery_poll_path
                response = self.call(
                    "gallery poll",
                    "GET",
                    path,
                    session=session,
                    headers=self.headers("/history/", **{"HX-Request": "true"}),
                )
                if response is not None and response.status_code == 200:
                    found = GALLERY_POLLER.search(response.text)
                    self.gallery_poll_path = html.unescape(found.group(1)) if found else None
                elif response is not None and response.status_code == 286:
                    self.gallery_poll_path = None
            time.sleep(max(0.0, min(TRAY_SECONDS, self.left())))


# --- Watching the shared services ----------------------------------------------------------


class Sampler:
    """On a thread: PostgreSQL's connections every 0.25 s; the simulator's new log entries every 2 s.

    The simulator's log entries are stamped with the time they were collected (to within
    2 s), so the listings of a phase of the run can be told apart."""

    def __init__(self, pg: PostgresServer, sim: SimulatorProcess, started: float, after_seq: int) -> None:
        import psycopg

        self.conn = psycopg.connect(
            host="127.0.0.1", port=pg.port, user=pg.user, password=pg.password, dbname=pg.database, autocommit=True
        )
        self.sim = sim
        self.started = started
        self.last_seq = after_seq
        self.calls: list[tuple[float, dict]] = []
        self.peak_total = 0  # every row of pg_stat_activity (with PostgreSQL's own processes), less this one
        self.peak_clients = 0  # client backends only, less this one
        self.peak_active = 0  # client backends running a query at that moment, less this one
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def sample_pg(self) -> None:
        total, clients, active = self.conn.execute(
            "SELECT count(*) - 1, count(*) FILTER (WHERE backend_type = 'client backend') - 1,"
            " count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active') - 1 FROM pg_stat_activity"
        ).fetchone()
        self.peak_total = max(self.peak_total, total)
        self.peak_clients = max(self.peak_clients, clients)
        self.peak_active = max(self.peak_active, active)

    def collect(self) -> None:
        try:
            fresh = [e for e in self.sim.requests() if e["seq"] > self.last_seq]
        except Exception:  # noqa: BLE001 (a missed collection is made up by the next one)
            return
        if fresh:
            at = time.monotonic() - self.started
            self.calls.extend((at, e) for e in fresh)
            self.last_seq = fresh[-1]["seq"]

    def _run(self) -> None:
        last_collect = 0.0
        while not self._stop.is_set():
            try:
                self.sample_pg()
            except Exception:  # noqa: BLE001
                pass
            if time.monotonic() - last_collect >= 2.0:
                self.collect()
                last_collect = time.monotonic()
            self._stop.wait(0.25)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample_pg()
        self.collect()
        self.conn.close()


def s3_client(s3: S3Server):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        region_name=s3.region,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
    )


def bucket_contents(client) -> tuple[int, int]:
    count = size = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            count += 1
            size += obj["Size"]
    return count, size


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f}"


# --- The run ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--designers", type=int, default=DESIGNERS)
    parser.add_argument("--duration", type=float, default=DURATION, help=f"seconds of load (default {DURATION:.0f})")
    parser.add_argument(
        "--workers", type=int, default=WORKERS, help=f"WEB_CONCURRENCY per instance (default {WORKERS})"
    )
    args = parser.parse_args()
    install_signal_handlers()
    names = [designer_name(n) for n in range(1, args.designers + 1)]
    job_seconds = args.duration + 300  # jobs stay pending for the whole run

    heading(
        f"scale out: {INSTANCES} instances, {len(names)} designers for {args.duration:.0f} s, round robin per request"
    )
    setup_started = time.monotonic()
    images = [photo_jpeg(seed) for seed in range(8)]
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-scale_out-")))
        try:
            pg = stack.enter_context(PostgresServer(max_connections=PG_MAX_CONNECTIONS))
            redis_server = stack.enter_context(RedisServer())
            s3 = stack.enter_context(S3Server())
            sim = stack.enter_context(
                SimulatorProcess(tmp / "simulator", env={"SIMULATOR_JOB_SECONDS": str(job_seconds)})
            )
        except (ServiceError, SimulatorError) as exc:
            say(f"  could not start the services: {exc}")
            return 1
        s3c = s3_client(s3)
        s3c.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": s3.region})
        sim.seed(SEED_ITEMS)

        env = dashboard_env(
            tmp,
            sim,
            DATABASE_URL=pg.url,
            REDIS_URL=redis_server.url,
            MEDIA_STORAGE="s3",
            AWS_STORAGE_BUCKET_NAME=BUCKET,
            AWS_S3_ENDPOINT_URL=s3.endpoint_url,
            AWS_S3_REGION_NAME=s3.region,
            AWS_ACCESS_KEY_ID=s3.access_key,
            AWS_SECRET_ACCESS_KEY=s3.secret_key,
            AWS_LOCATION="media",
            WEB_CONCURRENCY=str(args.workers),
            GUNICORN_CMD_ARGS="--keep-alive 10",
        )
        write_settings(tmp)
        prepare_database(env, names)  # migrate once, for both instances
        instances: list[Gunicorn] = []
        for i in range(INSTANCES):
            instance = Gunicorn(
                env,
                tmp / f"gunicorn-{i + 1}.log",
                workers=args.workers,
                threads=THREADS,  # the Procfile's web process: WEB_THREADS
            )
            instances.append(stack.enter_context(instance))
        for instance in instances:
            instance.wait_for_workers()
        # The Procfile's sync beside each instance: the lease lets one call the upstream.
        syncs = [stack.enter_context(SyncProcess(env, tmp / f"sync-{i + 1}.log")) for i in range(INSTANCES)]
        synced = wait_for_index(sim, lambda sql: pg_rows(pg, sql), sync=syncs[0])
        balancer = Balancer([instance.base_url for instance in instances])

        # Each designer logs in on one instance (alternately); every later request goes to either.
        login_started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            sessions = list(pool.map(lambda n: login(balancer.urls[n % INSTANCES], names[n]), range(len(names))))
        login_seconds = time.monotonic() - login_started
        setup_seconds = time.monotonic() - setup_started

        heading("config")
        row("machine", f"{os.cpu_count()} CPUs; every server and this load generator share them")
        for i, instance in enumerate(instances):
            row(
                f"instance {i + 1}",
                f"{instance.base_url}: {instance.description}, WEB_CONCURRENCY={args.workers} --keep-alive 10,"
                f" DEBUG=false, workers {instance.worker_pids()}",
            )
        row(
            "shared by both",
            f"PostgreSQL :{pg.port} (max_connections {PG_MAX_CONNECTIONS}, no pool, CONN_MAX_AGE 60),"
            f" Redis :{redis_server.port}, S3 (moto) :{s3.port} bucket {BUCKET}",
        )
        row("simulator", f"{SEED_ITEMS} seeded history items; jobs stay pending ({job_seconds:.0f} s)")
        row(
            "designers",
            f"{len(names)}, logged in alternately on each instance ({login_seconds:.1f} s for all);"
            f" {JOBS_PER_DESIGNER} jobs each (2 x ~{len(images[0]) // 1000} KB photos)",
        )
        row(
            "",
            "then Generate again + its input thumbnails, History, and load.py's browsing;"
            f" tray + gallery poll every {TRAY_SECONDS:.0f} s",
        )
        row(
            "sync",
            f"manage.py sync_index beside each instance (pids {', '.join(str(x.process.pid) for x in syncs)}),"
            f" default SYNC_* pacing; the seeded history read {synced:.1f} s after their start",
        )
        row("balancer", "round robin per request over both instances (no sticky sessions)")
        row("set-up", f"{setup_seconds:.1f} s")

        sim.clear_requests()
        api = requests.Session()
        api.headers.update(sim.headers)
        api.get(f"{sim.base_url}/generation/tools", timeout=10).raise_for_status()
        baseline_seq = sim.requests()[-1]["seq"]

        log_sizes = [log_size(path) for path in (*(i.log_path for i in instances), *(x.log_path for x in syncs))]
        record = Record(started=time.monotonic())
        deadline = record.started + args.duration
        designers = [BalancedDesigner(n, sessions[n], balancer, record, deadline, images) for n in range(len(names))]
        pids_by_instance = [instance.worker_pids() for instance in instances]
        worker_pids = [pid for pids in pids_by_instance for pid in pids]
        services_before = service_pids(pg, redis_server, s3, sim)
        cpu_before = load.cpu_of([*worker_pids, *services_before])
        busy_before = load.machine_busy_seconds()
        client_cpu_before = time.process_time()
        with Sampler(pg, sim, record.started, baseline_seq) as sampler:
            with ThreadPoolExecutor(max_workers=2 * len(designers), thread_name_prefix="designer") as pool:
                futures = [pool.submit(d.run) for d in designers] + [pool.submit(d.poll_tray) for d in designers]
                try:
                    for future in futures:
                        future.result()
                except BaseException:
                    # Ctrl-C or an error: every designer stops at its next step, not at the deadline.
                    for d in designers:
                        d.deadline = time.monotonic()
                    raise
            elapsed = time.monotonic() - record.started
        machine_busy = load.machine_busy_seconds() - busy_before
        client_cpu = time.process_time() - client_cpu_before
        services_after = service_pids(pg, redis_server, s3, sim)
        cpu_after = load.cpu_of([*worker_pids, *services_before, *services_after])
        # A PostgreSQL backend started during the run counts from zero.
        services_cpu = sum(
            cpu_after.get(p, 0) - cpu_before.get(p, 0) for p in set(services_before) | set(services_after)
        )
        samples: list[Hit] = list(record.samples)  # type: ignore[arg-type]
        objects, stored_bytes = bucket_contents(s3c)
        job_rows = int(pg_query(pg, "SELECT count(*) FROM dashboard_job"))
        calls = sampler.calls
        peak_total, peak_clients, peak_active = sampler.peak_total, sampler.peak_clients, sampler.peak_active
        # Read before the temp dir goes: the instances' and the syncs' logs.
        tracebacks = {
            path.name: path.read_text(errors="replace").count("Traceback")
            for path in (*(i.log_path for i in instances), *(x.log_path for x in syncs))
        }
        # Each process's own upstream calls during the run (its genapi log lines).
        made = {
            name: logged_calls(path, offset)
            for name, path, offset in zip(
                [*(f"instance {i + 1}" for i in range(INSTANCES)), *(f"sync {i + 1}" for i in range(INSTANCES))],
                [*(i.log_path for i in instances), *(x.log_path for x in syncs)],
                log_sizes,
                strict=True,
            )
        }

    # ---------------------------------------------------------------- report (all stopped)
    if not samples:
        say("  no requests were made: nothing to report")
        return 1
    heading(f"requests ({elapsed:.1f} s of load; client wall time per request, incl. reading the body)")
    total = len(samples)
    row("total requests", f"{total:,} = {total / elapsed:.1f} per second")
    per_instance = Counter(s.instance for s in samples)
    row("per instance", ", ".join(f"{i + 1}: {per_instance[i]:,}" for i in range(INSTANCES)))
    jobs_sent = sum(d.jobs_sent for d in designers)
    row("jobs sent", f"{jobs_sent} of {len(designers) * JOBS_PER_DESIGNER} ({job_rows} job rows in PostgreSQL)")
    say("")
    say(
        f"  {'kind':<14} {'requests':>8} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}   "
        + "   ".join(f"{'inst ' + str(i + 1) + ' p50/p95':>17}" for i in range(INSTANCES))
        + f" {'errors':>7}"
    )
    for kind in (*KINDS, "all"):
        chosen = [s for s in samples if kind == "all" or s.kind == kind]
        if not chosen:
            continue
        timed = [s.seconds for s in chosen if s.status]
        parts = []
        for i in range(INSTANCES):
            mine = [s.seconds for s in chosen if s.status and s.instance == i]
            parts.append(f"{ms(percentile(mine, 50))} /{ms(percentile(mine, 95))}")
        errors = sum(1 for s in chosen if s.outcome != "ok")
        say(
            f"  {kind:<14} {len(chosen):>8} {ms(percentile(timed, 50))} {ms(percentile(timed, 95))} {ms(max(timed, default=float('nan')))}   "
            + "   ".join(parts)
            + f" {errors:>7}"
        )
    last_job = max((s.at + s.seconds for s in samples if s.kind == "job creation"), default=0.0)
    steady = [s for s in samples if s.at > last_job and s.status]
    if steady and last_job > 0:
        say(
            f"  after the job-sending phase ({last_job:.1f} s on): {len(steady) / max(elapsed - last_job, 1e-9):.1f} requests/s,"
            f" p50 {percentile([s.seconds for s in steady], 50) * 1000:.1f} ms, p95 {percentile([s.seconds for s in steady], 95) * 1000:.1f} ms"
            + "".join(
                f"; instance {i + 1} p95 {percentile([s.seconds for s in steady if s.instance == i], 95) * 1000:.1f} ms"
                for i in range(INSTANCES)
            )
        )

    heading("errors")
    errors = Counter((s.kind, s.status, s.outcome, s.instance) for s in samples if s.outcome != "ok")
    say(f"  {sum(errors.values())} error(s)" if errors else "  0 errors")
    for (kind, status, outcome, instance), count in sorted(errors.items(), key=lambda kv: -kv[1]):
        say(f"  {count:>6} x {kind:<13} instance {instance + 1} HTTP {status or '-':<4} {outcome}")
    retried = Counter()
    for d in designers:
        retried.update(d.retried)
    if retried:
        say(f"  stale keep-alive connections, GET retried once as browsers do (not errors): {dict(retried)}")
    for name, count in tracebacks.items():
        if count:
            say(f"  {name}: {count} traceback(s) in its log")

    heading("upstream calls: who made them (each process's own log) and the sync's running listings")
    polls = [s for s in samples if s.kind in POLLS]
    listings = [(at, e) for at, e in calls if is_pending_listing(e)]
    upstream_total = len(calls)
    for name, counter in made.items():
        count = sum(counter.values())
        row(
            f"  {name}",
            f"{count:,} = {count / elapsed:.2f} per second"
            + (f": {', '.join(f'{n} x {call}' for call, n in counter.most_common(4))}" if count else ""),
        )
    pages = sum(made[f"instance {i + 1}"].total() for i in range(INSTANCES))
    row("  the instances, per request", f"{pages / total:.2f} (writes, image bytes, ratings re-read; no page reads)")
    row(
        "polls (tray + gallery poll)",
        f"{len(polls):,} = {len(polls) / elapsed:.1f} per second"
        f" (instance 1: {sum(1 for s in polls if s.instance == 0):,}, instance 2: {sum(1 for s in polls if s.instance == 1):,})",
    )
    row("  answered 204, nothing new", f"{sum(1 for s in polls if s.status == 204):,}")
    row(
        "upstream status=pending listings",
        f"{len(listings):,} = {len(listings) / elapsed:.2f} per second"
        f" ({sum(1 for _, e in listings if parse_qs(e.get('query', '')).get('page', ['1']) != ['1'])} of them pages after the first)",
    )
    if polls:
        row("  listings per poll", f"{len(listings) / len(polls):.3f}")
    steady_from = last_job + 2.0  # collection stamps are up to 2 s late
    steady_polls = [s for s in polls if s.at >= steady_from]
    steady_listings = [e for at, e in listings if at >= steady_from + 2.0]
    steady_span = elapsed - steady_from - 2.0
    if steady_polls and steady_span > 5:
        row(
            f"  after the last job ({steady_from:.0f} s on)",
            f"{len(steady_listings) / steady_span:.2f} listings/s for {len([s for s in steady_polls if s.at >= steady_from + 2]) / steady_span:.1f} polls/s"
            f" (one per SYNC_RUNNING_SECONDS = {SYNC_RUNNING_SECONDS:.0f} s would be {1 / SYNC_RUNNING_SECONDS:.2f}/s)",
        )
    row(
        "all upstream calls",
        f"{upstream_total:,} = {upstream_total / elapsed:.1f} per second, {upstream_total / total:.2f} per dashboard request",
    )
    by_call = load.group_calls([e for _, e in calls])
    for name, count in by_call.most_common(6):
        say(f"    {count:>7,}  {count / elapsed:6.1f}/s  {name}")

    heading("shared state")
    row("objects in the S3 bucket", f"{objects:,} ({stored_bytes / 1e6:.1f} MB): inputs and their thumbnails")
    row(
        "PostgreSQL connections, peak",
        f"{peak_total} in pg_stat_activity ({peak_clients} client backends), this sampler's own excluded",
    )
    row("", f"at most {peak_active} of them running a query in any sample (the rest idle, kept open per thread)")
    row(
        "",
        f"the most possible: {INSTANCES} instances x {args.workers} workers x {THREADS} threads = {INSTANCES * args.workers * THREADS}"
        f" without the pool, plus {INSTANCES} for the sync processes",
    )

    heading(
        f"CPU during the run ({os.cpu_count()} CPUs x {elapsed:.0f} s = {(os.cpu_count() or 1) * elapsed:.0f} CPU seconds)"
    )
    for i, instance_pids in enumerate(pids_by_instance):
        used = sum(cpu_after.get(p, 0) - cpu_before.get(p, 0) for p in instance_pids)
        row(f"instance {i + 1}'s workers", f"{used:6.1f} s ({used / elapsed * 100:5.1f} % of one CPU)")
    workers_cpu = sum(cpu_after.get(p, 0) - cpu_before.get(p, 0) for p in worker_pids)
    row(
        "PostgreSQL, Redis, moto, simulator",
        f"{services_cpu:6.1f} s ({services_cpu / elapsed * 100:5.1f} % of one CPU)",
    )
    row("load generator (this script)", f"{client_cpu:6.1f} s ({client_cpu / elapsed * 100:5.1f} % of one CPU)")
    others = max(0.0, machine_busy - workers_cpu - services_cpu - client_cpu)
    row(
        "everything else on the machine",
        f"{others:6.1f} s ({others / elapsed * 100:5.1f} % of one CPU)"
        + ("  <- other work competed for the CPUs: latencies are inflated" if others > 0.15 * elapsed else ""),
    )
    row(
        "machine busy, all CPUs",
        f"{machine_busy:6.1f} s ({machine_busy / ((os.cpu_count() or 1) * elapsed) * 100:5.1f} % of capacity)",
    )

    if not any(s.outcome == "ok" for s in samples):
        say("\n  no request succeeded: the figures above measure failures only")
        return 1
    return 0


def service_pids(pg: PostgresServer, redis_server: RedisServer, s3: S3Server, sim: SimulatorProcess) -> list[int]:
    """The shared servers' processes: PostgreSQL's postmaster and its children (backends
    included), Redis, moto and the simulator."""
    pids = [
        process.pid
        for process in (redis_server._process, s3._process, sim._process)  # noqa: SLF001 (bench only)
        if process is not None
    ]
    try:
        postmaster = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return pids
    return [*pids, postmaster, *children(postmaster)]


def pg_rows(pg: PostgresServer, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=pg.port, user=pg.user, password=pg.password, dbname=pg.database
    ) as conn:
        return conn.execute(sql).fetchall()


def pg_query(pg: PostgresServer, sql: str):
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=pg.port, user=pg.user, password=pg.password, dbname=pg.database
    ) as conn:
        return conn.execute(sql).fetchone()[0]


if __name__ == "__main__":
    main_guard(main)
