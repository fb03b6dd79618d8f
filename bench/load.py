"""A team under load: 50 designers browse, rate and poll at once against gunicorn.

The dashboard runs as in production (DEBUG=false, collected static files) under gunicorn
with several workers on this machine, beside the sync process (`manage.py sync_index`,
default SYNC_* pacing), against the simulator seeded with SEED_ITEMS history items, which
the sync has read before the run starts; jobs take long enough upstream (job_seconds) to
stay pending for the whole run. Pages read the index the sync keeps. REDIS_URL is unset,
so each gunicorn worker has its own memory cache (the Generate form's catalogue, result
previews, and the job-creation rate limit's counters).

Every designer has its own user and logged-in session and, from one thread,

  1. sends JOBS_PER_DESIGNER jobs (POST / as htmx sends it: multipart, tool=fashion_swap,
     two ~50 KB JPEGs), well within the job-creation rate limit (30 a minute per
     designer by default; its refusal, a form error "You have sent N jobs in the last
     minute..." or an HTTP 429, is deliberate and not an error), then
  2. until the deadline, repeats: a gallery page (GET /history/?status=complete&limit=20
     &page=P, P random in 1-5); 4 random result previews of that page right away, as the
     browser loads the grid's images (GET /results/<id>/preview); the details fragment
     of a random card (GET /history/<id>/ with HX-Request and HX-Target: lightbox); and a
     rating (POST /results/<id>/feedback, like=true|false, X-CSRFToken + Referer,
     HX-Request); with a think time of THINK_SECONDS after each step;

while a second thread with the same cookies polls its tray (GET /jobs/tray, HX-Request)
every TRAY_SECONDS from its first job on, as the open Generate page does. The tray reads
the index; the sync alone follows the 250 running jobs upstream (every
SYNC_RUNNING_SECONDS one status=pending listing, 100 results a page: 3 pages for 250,
however many designers poll).

The gallery is filtered to finished results (status=complete): the 250 jobs just sent are
the newest items upstream, so unfiltered pages 1-5 would hold only running jobs, with no
previews to load and nothing to rate.

An error is any response outside 2xx/3xx (but the rate-limit refusal), a request that
failed outright, or a 200 whose HTML carries an error notice (the upstream banner, a
notice-error, a tray warning, a form or field error, a job that was not sent). Traffic goes
to 127.0.0.1 only; every loop stops by itself at the deadline.

Upstream calls are counted by the process that made them (each logs its own; the
simulator's access log sees them mixed): the dashboard's during the run, by call, and
the sync's beside them. After the run, with the load stopped, a quiet pass counts the
dashboard's upstream calls of single requests of each kind, including one tray poll per
designer (expected: 0 for every page that reads the index: gallery, details, tray; the
rating's write and re-read, a preview's image when not cached, a job's creation).

Every run samples each gunicorn worker's VmRSS every 10 s; --soak runs 10 minutes and
reports per-worker growth from the first minute to the last (goal: flat). The CPU time of
the workers, the simulator, this script and the rest of the machine is reported too: on a
2-CPU machine anything else running (a test suite, a browser) inflates the latencies.

gunicorn keeps its defaults but -w/--threads (and whatever GUNICORN_CMD_ARGS adds, e.g.
"--keep-alive 5"); --sqlite wal|rollback overrides the dashboard's own SQLite options.

Run: .venv/bin/python bench/load.py [--duration 60] [--soak] [--workers 2 --threads 8]
(prints figures; asserts nothing about them; exit 1 only when it could not measure)
"""

from __future__ import annotations

import argparse
import html
import io
import os
import random
import re
import secrets
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import requests
from support import (
    bench_stack,
    cpu_seconds,
    heading,
    is_pending_listing,
    main_guard,
    percentile,
    row,
    rss_kib,
    say,
    small_jpeg,
    thread_cpu_seconds,
)

DESIGNERS = 50
JOBS_PER_DESIGNER = 5
SEED_ITEMS = 300
GALLERY_PAGES = (1, 5)  # random page in this range
GALLERY_QUERY = "status=complete&limit=20"
PREVIEWS_PER_PAGE = 4
THINK_SECONDS = (0.2, 1.0)
TRAY_SECONDS = 2.0
DURATION = 60.0
SOAK_DURATION = 600.0
RSS_EVERY = 10.0
REQUEST_TIMEOUT = 30.0
GOAL_P95_MS = 250.0
GOAL_FLAT_MB = 5.0  # per-worker growth from the first minute to the last that still counts as flat
QUIET_JOBS = 3  # jobs the quiet pass sends one at a time (within the rate limit)
# The job-creation rate limit's refusal (dashboard/generate/views.py: rate_limit_message), a
# form error on a 200; an HTTP 429 counts as the refusal too.
RATE_LIMITED = "jobs in the last minute, the most allowed"
# How a reused keep-alive connection fails when the server closed it at the same moment.
STALE_CONNECTION = {
    f"ConnectionError ({name})" for name in ("ConnectionResetError", "RemoteDisconnected", "BrokenPipeError")
}
KINDS = ("gallery", "details", "feedback", "preview", "tray", "job creation")
SQLITE_MODES = {
    # --sqlite: how the bench settings open the SQLite database.
    "app": "",  # whatever dashboard/settings.py does
    "wal": """
DATABASES["default"].setdefault("OPTIONS", {}).update(
    init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", transaction_mode="IMMEDIATE"
)
""",
    "rollback": """
DATABASES["default"]["OPTIONS"] = {"init_command": "PRAGMA journal_mode=DELETE"}
""",
}

NOTICE = re.compile(
    r'id="upstream-banner"|class="[^"]*\b(?:notice-error|notice-warning|form-error|field-error)\b[^"]*"[^>]*>\s*(?:<p>)?([^<]{0,120})'
)


DETAIL_LINK = re.compile(r'href="(/history/[^/"?]+/(?:\?[^"]*)?)"')
PREVIEW_SRC = re.compile(r'src="(/results/([^/"]+)/preview)"')


def designer_name(n: int) -> str:
    return f"designer-{n:02d}"


def photo_jpeg(seed: int, size: tuple[int, int] = (800, 600), grain: float = 0.11) -> bytes:
    """A JPEG of roughly 50 KB: the small test image with some grain, different per seed."""
    from PIL import Image

    base = Image.open(io.BytesIO(small_jpeg(seed, size))).convert("RGB")
    rng = random.Random(seed)
    noise = Image.merge("RGB", [Image.effect_noise(size, 30 + rng.random() * 20) for _ in range(3)])
    out = io.BytesIO()
    Image.blend(base, noise, grain).save(out, format="JPEG", quality=85)
    return out.getvalue()


# --- What happened ----------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    at: float  # seconds since the start of the run
    seconds: float
    status: int  # 0: no response
    outcome: str  # "ok", "refused" (the rate limit), or what went wrong


@dataclass
class Record:
    started: float
    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)


def notice_in(text: str) -> str | None:
    """The first error notice in an HTML answer, if any (its first words)."""
    match = NOTICE.search(text)
    if match is None:
        return None
    if match.group(0).startswith('id="upstream-banner"'):
        return "upstream banner shown"
    words = " ".join(html.unescape(match.group(1) or "").split())
    return f"error notice: {words[:70]}" if words else "error notice"


def failure(exc: requests.RequestException) -> str:
    """The exception's class, and the innermost cause urllib3 wrapped, e.g. "ConnectionError (RemoteDisconnected)"."""
    causes = re.findall(r"(\w+)\(", str(exc))
    cause = next(
        (c for c in reversed(causes) if c not in ("HTTPConnectionPool", "MaxRetryError", "ProtocolError")), None
    )
    return f"{type(exc).__name__} ({cause})" if cause else type(exc).__name__


def judge(kind: str, response: requests.Response) -> str:
    status = response.status_code
    if kind == "job creation" and (status == 429 or RATE_LIMITED in response.text):
        return "refused"
    if not 200 <= status < 400:
        return f"HTTP {status}"
    if kind == "preview":
        kind_of = response.headers.get("Content-Type", "")
        return "ok" if kind_of.startswith("image/") else f"not an image ({kind_of or 'no type'})"
    text = response.text
    problem = notice_in(text)
    if problem:
        return problem
    if kind == "job creation" and "Job sent" not in text:
        return "job not sent (no 'Job sent' notice)"
    if kind == "tray" and "data-running=" not in text:
        return "not a tray"
    if kind == "gallery" and not DETAIL_LINK.search(text):
        return "no cards on the page"
    return "ok"


# --- One designer -----------------------------------------------------------------------


class Designer:
    def __init__(
        self, n: int, session: requests.Session, base_url: str, record: Record, deadline: float, images: list[bytes]
    ):
        self.n = n
        self.session = session
        self.base_url = base_url
        self.record = record
        self.deadline = deadline
        self.images = images
        self.rng = random.Random(n)
        self.first_job = threading.Event()
        self.jobs_sent = 0
        self.retried: Counter[str] = Counter()

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def think(self) -> None:
        time.sleep(max(0.0, min(self.rng.uniform(*THINK_SECONDS), self.left())))

    def call(
        self, kind: str, method: str, path: str, session: requests.Session | None = None, **kwargs
    ) -> requests.Response | None:
        started = time.monotonic()
        for attempt in (1, 2):
            try:
                response = (session or self.session).request(
                    method, f"{self.base_url}{path}", allow_redirects=False, timeout=REQUEST_TIMEOUT, **kwargs
                )
                _ = response.content  # read the whole body inside the timing
                break
            except requests.RequestException as exc:
                # A kept-alive connection the server closed just as we reused it: a browser
                # sends the GET again on a new connection, and so do we (counted, not an error).
                if attempt == 1 and method == "GET" and failure(exc) in STALE_CONNECTION:
                    with self.record.lock:
                        self.retried[kind] += 1
                    continue
                self.record.add(
                    Sample(kind, started - self.record.started, time.monotonic() - started, 0, failure(exc))
                )
                return None
        elapsed = time.monotonic() - started
        self.record.add(
            Sample(kind, started - self.record.started, elapsed, response.status_code, judge(kind, response))
        )
        return response

    def headers(self, referer: str, **extra: str) -> dict[str, str]:
        return {"Referer": f"{self.base_url}{referer}", **extra}

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

    def browse(self) -> None:
        while self.left() > 0:
            page = self.rng.randint(*GALLERY_PAGES)
            gallery_path = f"/history/?{GALLERY_QUERY}&page={page}"
            response = self.call("gallery", "GET", gallery_path, headers=self.headers(gallery_path))
            if response is None or response.status_code != 200:
                self.think()
                continue
            text = response.text
            details = list(dict.fromkeys(html.unescape(m) for m in DETAIL_LINK.findall(text)))
            previews = list(dict.fromkeys(src for src, _ in PREVIEW_SRC.findall(text)))
            if not details:  # counted as an error by judge()
                self.think()
                continue
            # The browser loads the page's images right away.
            for src in self.rng.sample(previews, min(PREVIEWS_PER_PAGE, len(previews))):
                if self.left() <= 0:
                    return
                self.call("preview", "GET", src, headers=self.headers(gallery_path))
            self.think()
            if self.left() <= 0:
                return
            detail = self.rng.choice(details)
            item_id = detail.split("/")[2]
            self.call(
                "details",
                "GET",
                detail,
                headers=self.headers(gallery_path, **{"HX-Request": "true", "HX-Target": "lightbox"}),
            )
            self.think()
            if self.left() <= 0:
                return
            self.call(
                "feedback",
                "POST",
                f"/results/{item_id}/feedback",
                data={"like": self.rng.choice(["true", "false"])},
                headers=self.headers(
                    detail, **{"HX-Request": "true", "X-CSRFToken": self.session.cookies["csrftoken"]}
                ),
            )
            self.think()

    def run(self) -> None:
        try:
            self.send_jobs()
            self.browse()
        finally:
            self.first_job.set()  # never leave the tray thread waiting

    def poll_tray(self) -> None:
        """The tray's own polling, as the open generate page does it (own connection, same cookies)."""
        session = requests.Session()
        session.cookies.update(self.session.cookies)
        self.first_job.wait(max(0.0, self.left()))
        time.sleep(max(0.0, min(self.rng.uniform(0, TRAY_SECONDS), self.left())))
        while self.left() > 0:
            self.call("tray", "GET", "/jobs/tray", session=session, headers=self.headers("/", **{"HX-Request": "true"}))
            time.sleep(max(0.0, min(TRAY_SECONDS, self.left())))


# --- Watching the processes ---------------------------------------------------------------


class Watcher:
    """Every `every` seconds: each gunicorn worker's VmRSS, and the simulator's new log entries.

    The simulator keeps its last 10,000 calls; collecting them as the run goes (by sequence
    number) keeps every call for the breakdown, whatever the run's length."""

    def __init__(self, pids_now, started: float, every: float, sim, after_seq: int) -> None:
        self.pids_now = pids_now
        self.started = started
        self.every = every
        self.sim = sim
        self.last_seq = after_seq
        self.calls: list[dict] = []
        self.rss: dict[int, list[tuple[float, int]]] = defaultdict(list)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watcher", daemon=True)

    def collect(self) -> None:
        try:
            fresh = [e for e in self.sim.requests() if e["seq"] > self.last_seq]
        except Exception:  # noqa: BLE001 (a missed collection only thins the breakdown)
            return
        if fresh:
            self.calls.extend(fresh)
            self.last_seq = fresh[-1]["seq"]

    def sample(self) -> None:
        at = time.monotonic() - self.started
        for pid in self.pids_now():
            try:
                self.rss[pid].append((at, rss_kib(pid)))
            except (OSError, RuntimeError):
                pass

    def _run(self) -> None:
        while True:
            self.sample()
            self.collect()
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
        self.collect()


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs of the machine spent busy since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def cpu_of(pids: list[int]) -> dict[int, float]:
    found = {}
    for pid in pids:
        try:
            found[pid] = cpu_seconds(pid)
        except (OSError, IndexError, ValueError):
            pass
    return found


# --- Report -------------------------------------------------------------------------------


def group_calls(entries: list[dict]) -> Counter[str]:
    """Upstream calls by method and path, every item id (and image file name) as {id}."""
    counter: Counter[str] = Counter()
    for entry in entries:
        path = re.sub(r"/[0-9a-f]{24}(?=\.\w+$|/|$)", "/{id}", entry["path"])
        counter[f"{entry['method']} {path}"] += 1
    return counter


def path_kind(method: str, path: str) -> str | None:
    """Which request kind an access-log line is."""
    if method == "POST" and path == "/":
        return "job creation"
    if path == "/history/":
        return "gallery"
    if re.fullmatch(r"/history/[^/]+/", path):
        return "details"
    if re.fullmatch(r"/results/[^/]+/feedback", path):
        return "feedback"
    if re.fullmatch(r"/results/[^/]+/preview", path):
        return "preview"
    if path == "/jobs/tray":
        return "tray"
    return None


def read_from(path, offset: int, end: int | None = None) -> list[str]:
    """The lines a log file got between two sizes."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(None if end is None else end - offset)
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()


def size_of(path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


def latency_table(samples: list[Sample], duration: float) -> None:
    say(
        f"  {'kind':<13} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>7}"
    )
    for kind in (*KINDS, "all"):
        chosen = [s for s in samples if kind == "all" or s.kind == kind]
        timed = [s.seconds for s in chosen if s.status]
        errors = sum(1 for s in chosen if s.outcome not in ("ok", "refused"))
        if not chosen:
            say(f"  {kind:<13} {0:>8}")
            continue
        say(
            f"  {kind:<13} {len(chosen):>8} {len(chosen) / duration:>7.1f} {ms(percentile(timed, 50))} {ms(percentile(timed, 95))}"
            f" {ms(percentile(timed, 99))} {ms(max(timed, default=float('nan')))} {errors:>7}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help=f"seconds of load (default {DURATION:.0f}; with --soak {SOAK_DURATION:.0f})",
    )
    parser.add_argument(
        "--soak", action="store_true", help=f"{SOAK_DURATION / 60:.0f} minutes, with per-worker memory growth"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn -w (default 2)")
    parser.add_argument(
        "--threads", type=int, default=8, help="gunicorn --threads; 1 = sync workers (default 8: gthread)"
    )
    parser.add_argument("--designers", type=int, default=DESIGNERS)
    parser.add_argument(
        "--sqlite",
        choices=sorted(SQLITE_MODES),
        default="app",
        help="app: the dashboard's own settings (default); wal / rollback: forced by the bench settings",
    )
    args = parser.parse_args()
    duration = args.duration or (SOAK_DURATION if args.soak else DURATION)
    job_seconds = max(600.0, duration + 120)
    names = [designer_name(n) for n in range(1, args.designers + 1)]

    heading(
        f"load: {len(names)} designers browsing, rating and polling for {duration:.0f} s{' (soak)' if args.soak else ''}"
    )
    setup_started = time.monotonic()
    images = [photo_jpeg(seed) for seed in range(8)]
    with bench_stack(
        "load",
        usernames=names,
        sim_env={"SIMULATOR_JOB_SECONDS": str(job_seconds)},
        workers=args.workers,
        threads=args.threads,
        settings_extra=SQLITE_MODES[args.sqlite],
        # dashboard.wsgi: the worker times come from gunicorn's access log (%(D)s), which
        # uvicorn's worker (the Procfile's web) does not write.
        access_log=True,
        web="wsgi",
    ) as stack:
        sim = stack.sim
        sim.seed(SEED_ITEMS)
        synced = stack.wait_for_index()
        worker_pids = stack.dashboard.wait_for_workers()
        sim_pid = sim._process.pid if sim._process else None  # noqa: SLF001 (bench only)
        journal = stack.query("PRAGMA journal_mode")[0][0]
        api = requests.Session()
        api.headers.update(sim.headers)

        heading("config")
        row("machine", f"{os.cpu_count()} CPUs; dashboard, simulator and this load generator share them")
        row("dashboard", f"{stack.dashboard.description}, DEBUG=false, {len(worker_pids)} worker PIDs {worker_pids}")
        if os.environ.get("GUNICORN_CMD_ARGS"):
            row("", f"plus GUNICORN_CMD_ARGS={os.environ['GUNICORN_CMD_ARGS']!r}")
        row("cache", "REDIS_URL unset: each worker has its own memory cache (LocMemCache)")
        row("", "(catalogue, finished items, result previews and the job rate-limit counters are per worker)")
        row("database", f"SQLite, journal_mode={journal} (--sqlite {args.sqlite})")
        row("simulator", f"{SEED_ITEMS} seeded history items; job_seconds {job_seconds:.0f} (jobs stay pending)")
        row(
            "sync",
            f"manage.py sync_index, pid {stack.sync.process.pid}, default SYNC_* pacing; it had read the"
            f" {SEED_ITEMS} seeded items {synced:.1f} s after seeding",
        )
        row(
            "designers",
            f"{len(names)}, each its own user and session; {JOBS_PER_DESIGNER} jobs each first (~{len(images[0]) // 1000} KB images x 2)",
        )
        row(
            "",
            f"then: gallery ?{GALLERY_QUERY}&page=1-5, {PREVIEWS_PER_PAGE} previews, details, feedback;"
            f" think {THINK_SECONDS[0]}-{THINK_SECONDS[1]} s",
        )
        row("", f"tray poll every {TRAY_SECONDS:.0f} s per designer (from its first job on)")
        row("duration", f"{duration:.0f} s (set-up took {time.monotonic() - setup_started:.1f} s)")

        # The access log keeps 10,000 entries; its sequence numbers count every call.
        sim.clear_requests()
        api.get(f"{sim.base_url}/generation/tools", timeout=10).raise_for_status()
        baseline_seq = sim.requests()[-1]["seq"]

        record = Record(started=time.monotonic())
        deadline = record.started + duration
        designers = [
            Designer(n, stack.sessions[name], stack.dashboard.base_url, record, deadline, images)
            for n, name in enumerate(names)
        ]
        access_path, app_log_path = stack.tmp / "access.log", stack.tmp / "gunicorn.log"
        logs_before = size_of(access_path), size_of(app_log_path)
        sync_pid = stack.sync.process.pid
        cpu_before = cpu_of([*worker_pids, sync_pid, *([sim_pid] if sim_pid else [])])
        run_mark = stack.mark()
        client_cpu_before = time.process_time()
        busy_before = machine_busy_seconds()
        with Watcher(stack.dashboard.worker_pids, record.started, RSS_EVERY, sim, baseline_seq) as watcher:
            with ThreadPoolExecutor(max_workers=2 * len(designers), thread_name_prefix="designer") as pool:
                futures = [pool.submit(d.run) for d in designers] + [pool.submit(d.poll_tray) for d in designers]
                for future in futures:
                    future.result()
        elapsed = time.monotonic() - record.started
        cpu_after = cpu_of([*worker_pids, sync_pid, *([sim_pid] if sim_pid else [])])
        time.sleep(0.2)  # let gunicorn flush its access log
        run_calls = stack.calls_since(run_mark)
        access_lines = read_from(access_path, logs_before[0])
        app_lines = read_from(app_log_path, logs_before[1])
        client_cpu = time.process_time() - client_cpu_before
        machine_busy = machine_busy_seconds() - busy_before
        entries = watcher.calls
        upstream_total = (entries[-1]["seq"] - baseline_seq) if entries else 0
        final_pids = stack.dashboard.worker_pids()
        samples = list(record.samples)

        # --- Quiet pass: upstream calls per request of each kind -------------------------
        # Each request alone: its upstream calls, wall time, and the CPU it cost the
        # dashboard's workers and the simulator (per-thread CPU clocks, nanoseconds).
        quiet: dict[str, list[int]] = defaultdict(list)
        quiet_paths: dict[str, Counter] = defaultdict(Counter)
        quiet_cost: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        probe = designers[0]
        probe.deadline = time.monotonic() + 120

        def cpu_now() -> tuple[float, float]:
            try:
                return sum(thread_cpu_seconds(p) for p in worker_pids), thread_cpu_seconds(sim_pid) if sim_pid else 0.0
            except OSError:
                return 0.0, 0.0

        def measure(kind: str, fn) -> None:
            mark = stack.mark()
            (dash0, sim0), t0 = cpu_now(), time.perf_counter()
            fn()
            wall = time.perf_counter() - t0
            dash1, sim1 = cpu_now()
            calls = stack.calls_since(mark)["dashboard"]  # the dashboard's own, not the sync's
            quiet[kind].append(sum(calls.values()))
            quiet_paths[kind].update(calls)
            quiet_cost[kind].append((wall, dash1 - dash0, sim1 - sim0))

        gallery_html = probe.session.get(f"{stack.dashboard.base_url}/history/?{GALLERY_QUERY}&page=2", timeout=30).text
        ids = list(dict.fromkeys(item_id for _, item_id in PREVIEW_SRC.findall(gallery_html)))
        for i in range(20):
            page = 1 + i % 5
            measure("gallery", lambda page=page: probe.call("gallery", "GET", f"/history/?{GALLERY_QUERY}&page={page}"))
        for item_id in ids[:20]:
            measure(
                "details",
                lambda item_id=item_id: probe.call(
                    "details",
                    "GET",
                    f"/history/{item_id}/?status=complete&page=2",
                    headers={"HX-Request": "true", "HX-Target": "lightbox"},
                ),
            )
            measure(
                "feedback",
                lambda item_id=item_id: probe.call(
                    "feedback",
                    "POST",
                    f"/results/{item_id}/feedback",
                    data={"like": "true"},
                    headers=probe.headers(
                        "/history/", **{"HX-Request": "true", "X-CSRFToken": probe.session.cookies["csrftoken"]}
                    ),
                ),
            )
            measure("preview", lambda item_id=item_id: probe.call("preview", "GET", f"/results/{item_id}/preview"))
        for d in designers:
            measure("tray", lambda d=d: d.call("tray", "GET", "/jobs/tray", headers={"HX-Request": "true"}))
        for j in range(QUIET_JOBS):
            measure(
                "job creation",
                lambda j=j: probe.call(
                    "job creation",
                    "POST",
                    "/",
                    data={
                        "tool": "fashion_swap",
                        "submission": secrets.token_urlsafe(18),
                        "csrfmiddlewaretoken": probe.session.cookies["csrftoken"],
                    },
                    files={
                        "clothes": ("garment.jpg", images[j], "image/jpeg"),
                        "person": ("model.jpg", images[j + 3], "image/jpeg"),
                    },
                    headers=probe.headers("/", **{"HX-Request": "true", "HX-Target": "generate-form"}),
                ),
            )

    # ---------------------------------------------------------------- report (stack stopped)
    if not samples:
        say("  no requests were made: nothing to report")
        return 1
    heading(f"requests ({elapsed:.1f} s of load, client wall time per request incl. reading the body)")
    total = len(samples)
    row("total requests", f"{total:,}")
    row("requests per second", f"{total / elapsed:.1f}")
    jobs_sent = sum(d.jobs_sent for d in designers)
    refused = sum(1 for s in samples if s.outcome == "refused")
    row(
        "jobs sent",
        f"{jobs_sent} of {len(designers) * JOBS_PER_DESIGNER} ({refused} refused by the rate limit, not errors)",
    )
    say("")
    latency_table(samples, elapsed)
    last_job = max((s.at + s.seconds for s in samples if s.kind == "job creation"), default=0.0)
    steady = [s for s in samples if s.at > last_job]
    if steady and last_job > 0:
        heading(f"the same after the job-creation phase (from {last_job:.1f} s on)")
        latency_table(steady, max(elapsed - last_job, 1e-9))

    # Worker time per request (gunicorn's access log: from reading the request to the end of
    # the response, so without the wait for a free worker) and upstream latency (genapi's log).
    server: dict[str, list[float]] = defaultdict(list)
    for line in access_lines:
        parts = line.split()
        if len(parts) == 4 and parts[3].isdigit() and (kind := path_kind(parts[0], parts[1])):
            server[kind].append(int(parts[3]) / 1e6)
    upstream_ms: dict[str, list[float]] = defaultdict(list)
    for line in app_lines:
        match = re.search(r"genapi (\w+) /(\S+) (\S+) ([\d.]+)ms", line)
        if match:
            name = re.sub(r"/[0-9a-f]{24}(?=\.\w+$|/|$)", "/{id}", "/" + match.group(2))
            upstream_ms[f"{match.group(1)} {name}"].append(float(match.group(4)) / 1000)
    if server:
        heading("where the time goes: client time vs the worker's own time per request (p50 / p95, ms)")
        say("  client: as measured here; worker: gunicorn's access log (excludes waiting for a free worker);")
        say("  the difference is the wait in gunicorn's queue (and the load generator's own scheduling)")
        say(f"  {'kind':<13} {'client p50':>10} {'worker p50':>10}   {'client p95':>10} {'worker p95':>10}")
        for kind in KINDS:
            timed = [x.seconds for x in samples if x.kind == kind and x.status]
            if timed and server.get(kind):
                say(
                    f"  {kind:<13} {ms(percentile(timed, 50)):>10} {ms(percentile(server[kind], 50)):>10}   "
                    f"{ms(percentile(timed, 95)):>10} {ms(percentile(server[kind], 95)):>10}"
                )
    if upstream_ms:
        say("")
        say("  upstream calls as the dashboard timed them (genapi log), during the run:")
        say(f"  {'call':<48} {'count':>7} {'p50 ms':>8} {'p95 ms':>8}")
        for name, values in sorted(upstream_ms.items(), key=lambda kv: -len(kv[1])):
            say(f"  {name:<48} {len(values):>7,} {ms(percentile(values, 50))} {ms(percentile(values, 95))}")

    retried = Counter()
    for d in designers:
        retried.update(d.retried)
    if retried:
        say("")
        say(
            f"  stale keep-alive connections, GET retried once on a new connection as browsers do (not errors):"
            f" {', '.join(f'{kind} {n}' for kind, n in retried.most_common())}"
        )
        say("  (gunicorn closes an idle kept-alive connection after --keep-alive seconds, 2 by default: the tray's")
        say(
            f"   {TRAY_SECONDS:.0f} s poll reuses its connection just as gunicorn closes it; --keep-alive 5+ avoids it)"
        )

    heading("errors by kind and status")
    errors = Counter((s.kind, s.status, s.outcome) for s in samples if s.outcome not in ("ok", "refused"))
    if not errors:
        say("  none")
    for (kind, status, outcome), count in sorted(errors.items(), key=lambda kv: (-kv[1], kv[0])):
        say(f"  {count:>6} x {kind:<13} HTTP {status or '-':<4} {outcome}")
    first_error = min((s.at for s in samples if s.outcome not in ("ok", "refused")), default=None)
    if first_error is not None:
        say(f"  (first error at {first_error:.1f} s into the run)")

    heading("goals")
    error_count = sum(errors.values())
    p95_all = percentile([s.seconds for s in samples if s.status], 95) * 1000
    row("zero errors", f"{error_count} error(s)  -> {'met' if error_count == 0 else 'MISSED'}")
    row(
        f"p95 under {GOAL_P95_MS:.0f} ms (all requests)",
        f"{p95_all:.1f} ms  -> {'met' if p95_all < GOAL_P95_MS else 'MISSED'}",
    )
    for kind in KINDS:
        timed = [s.seconds for s in samples if s.kind == kind and s.status]
        if timed:
            p95 = percentile(timed, 95) * 1000
            row(f"  p95 {kind}", f"{p95:7.1f} ms  -> {'met' if p95 < GOAL_P95_MS else 'MISSED'}")

    heading("the upstream's share: the simulator's access log, and each process's own calls (their logs)")
    row("upstream API calls", f"{upstream_total:,} in {elapsed:.1f} s = {upstream_total / elapsed:.1f} per second")
    row("per dashboard request", f"{upstream_total / total:.2f}")
    for process, label in (("dashboard", "gunicorn's workers (the pages)"), ("sync", "the sync process")):
        made = run_calls.get(process, Counter())
        row(f"  by {label}", f"{sum(made.values()):,} = {sum(made.values()) / elapsed:.2f} per second")
        for name, count in made.most_common():
            say(f"    {count:>7,}  {count / elapsed:6.2f}/s  {name}")
    listings = [e for e in entries if is_pending_listing(e)]
    firsts = sum(1 for e in listings if parse_qs(e.get("query", "")).get("page", ["1"]) == ["1"])
    row(
        "  running listings (the sync's)",
        f"{firsts:,} = {firsts / elapsed:.2f} per second, {len(listings):,} pages in all (100 results a page),"
        f" for {sum(1 for x in samples if x.kind == 'tray')} tray polls",
    )
    by_path = group_calls(entries)
    statuses = Counter(e["status"] for e in entries)
    shown = (
        f" ({len(entries):,} of them: the simulator's log dropped some between two collections)"
        if len(entries) < upstream_total
        else ""
    )
    say(f"  all of them by call{shown}:")
    for name, count in by_path.most_common():
        say(f"    {count:>7,}  {count / elapsed:6.1f}/s  {name}")
    say(f"  upstream statuses: {', '.join(f'{code}: {n:,}' for code, n in sorted(statuses.items()))}")

    heading("one request at a time, load stopped (quiet pass, caches as the run left them)")
    say("  what a single request costs: wall time (median), CPU of the dashboard's workers and of the")
    say("  simulator (mean per request; the simulator's also serves the sync meanwhile), and the")
    say("  dashboard's upstream calls for it (min / median / max, and which; from its own log)")
    say(
        f"  {'kind':<13} {'requests':>8} {'wall ms':>8} {'dash CPU ms':>11} {'sim CPU ms':>10} {'calls':>11}  calls seen"
    )
    for kind in KINDS:
        counts = quiet.get(kind, [])
        if not counts:
            continue
        ordered = sorted(counts)
        spread = f"{ordered[0]} / {ordered[len(ordered) // 2]} / {ordered[-1]}"
        costs = quiet_cost[kind]
        wall = percentile([c[0] for c in costs], 50)
        dash = sum(c[1] for c in costs) / len(costs)
        sim_cost = sum(c[2] for c in costs) / len(costs)
        seen = ", ".join(f"{n} x {name}" for name, n in quiet_paths[kind].most_common())
        say(f"  {kind:<13} {len(counts):>8} {ms(wall)} {ms(dash):>11} {ms(sim_cost):>10} {spread:>11}  {seen}")
    say("  (gallery, details and tray read the index: 0 calls; a rating is written upstream, then re-read)")

    heading(
        f"CPU used during the run (CPU seconds; {os.cpu_count()} CPUs x {elapsed:.0f} s = {os.cpu_count() * elapsed:.0f} available)"
    )
    worker_cpu = sum(cpu_after.get(p, 0) - cpu_before.get(p, 0) for p in worker_pids)
    row(
        "gunicorn workers",
        f"{worker_cpu:7.1f} s  ({worker_cpu / elapsed * 100:5.1f} % of one CPU; "
        f"{worker_cpu / total * 1000:.1f} ms per request on average)",
    )
    for pid in worker_pids:
        if pid in cpu_after:
            row(f"  worker {pid}", f"{cpu_after[pid] - cpu_before.get(pid, 0):7.1f} s")
    if sim_pid and sim_pid in cpu_after:
        sim_cpu = cpu_after[sim_pid] - cpu_before.get(sim_pid, 0)
        row("simulator", f"{sim_cpu:7.1f} s  ({sim_cpu / elapsed * 100:5.1f} % of one CPU)")
    sync_cpu = cpu_after.get(sync_pid, 0) - cpu_before.get(sync_pid, 0)
    row("sync process", f"{sync_cpu:7.1f} s  ({sync_cpu / elapsed * 100:5.1f} % of one CPU)")
    row("load generator (this script)", f"{client_cpu:7.1f} s  ({client_cpu / elapsed * 100:5.1f} % of one CPU)")
    ours = worker_cpu + sync_cpu + client_cpu + (sim_cpu if sim_pid and sim_pid in cpu_after else 0.0)
    others = max(0.0, machine_busy - ours)
    row(
        "everything else on the machine",
        f"{others:7.1f} s  ({others / elapsed * 100:5.1f} % of one CPU)"
        + ("  <- other work competed for the CPUs: latencies are inflated" if others > 0.15 * elapsed else ""),
    )
    row(
        "machine busy, all CPUs",
        f"{machine_busy:7.1f} s  ({machine_busy / (elapsed * (os.cpu_count() or 1)) * 100:5.1f} % of capacity)",
    )
    if sorted(final_pids) != sorted(worker_pids):
        say(f"  note: gunicorn workers changed during the run: {worker_pids} -> {final_pids} (a worker was restarted)")

    heading(f"memory: VmRSS per gunicorn worker, sampled every {RSS_EVERY:.0f} s")
    window = 60.0 if elapsed >= 180 else elapsed / 4
    say(
        f"  {'worker':>8} {'samples':>7} {'first':>9} {'last':>9} {'max':>9}   "
        + (f"{'first min':>9} {'last min':>9} {'growth':>9}" if args.soak else f"{'growth':>9}")
    )
    growths = []
    for pid, points in sorted(watcher.rss.items()):
        values = [kib / 1024 for _, kib in points]
        line = f"  {pid:>8} {len(points):>7} {values[0]:6.1f} MB {values[-1]:6.1f} MB {max(values):6.1f} MB   "
        if args.soak:
            first = [kib / 1024 for at, kib in points if at < window] or values[:1]
            last = [kib / 1024 for at, kib in points if at >= elapsed - window] or values[-1:]
            if first and last:
                growth = sum(last) / len(last) - sum(first) / len(first)
                growths.append(growth)
                line += f"{sum(first) / len(first):6.1f} MB {sum(last) / len(last):6.1f} MB {growth:+6.1f} MB"
        else:
            line += f"{values[-1] - values[0]:+6.1f} MB"
        say(line)
    if args.soak:
        say(f"  first/last min = mean of the samples in the first and the last {window:.0f} s")
        flat = bool(growths) and max(growths) < GOAL_FLAT_MB
        say(
            f"  goal: flat (every worker grows under {GOAL_FLAT_MB:.0f} MB from the first minute to the last)"
            f"  -> {'met' if flat else 'MISSED'}"
        )
    else:
        say("  (a 60 s run shows warm-up, not a trend: --soak runs 10 minutes and compares the first and last minute)")

    if not any(s.outcome == "ok" for s in samples):
        say("\n  no request succeeded: the figures above measure failures only")
        return 1
    return 0


if __name__ == "__main__":
    main_guard(main)
