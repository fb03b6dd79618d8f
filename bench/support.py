"""Shared start-up code for the benchmarks in bench/ (plain functions, no framework).

A benchmark is a standalone script (``.venv/bin/python bench/<name>.py`` from the
repository root) that does::

    with bench_stack("upload_memory") as stack:      # temp dir, simulator, dashboard, login
        stack.session.get(stack.url("/jobs/tray"))
        stack.sim.requests()

Everything lives in a temporary directory (SQLite database, media, static files, the
simulator's data, both processes' logs) that is removed at the end, also on Ctrl-C,
SIGTERM or an exception. The dashboard runs as in production: the Procfile's web process
(gunicorn, uvicorn's worker, dashboard.asgi; a bench that times requests by gunicorn's
access log runs dashboard.wsgi instead, web="wsgi"), one worker process, DEBUG=false,
collected static files, against the simulator over real sockets,
and beside it the Procfile's `sync` process (`manage.py sync_index`, the default SYNC_*
pacing unless a bench sets its own): pages read the index the sync keeps, and it is the
deployment's only status poller, so without it jobs never finish on pages and the
gallery stays empty. A bench that seeds the simulator waits for the sync to have read
what it seeded (``stack.wait_for_index()``) before it measures a page.

Upstream calls are told apart by the process that made them: every call the dashboard
makes is logged (``genapi GET /path 200 3.1ms``) by that process, gunicorn's and the
sync's into their own log files, so ``stack.calls_since(stack.mark())`` counts the pages'
calls and the sync's separately, where the simulator's access log sees them mixed.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import requests

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.procfile import web_command  # noqa: E402
from tests.support.simulator import SimulatorProcess, free_port  # noqa: E402

VENV_BIN = Path(sys.executable).parent
PYTHON = sys.executable
GUNICORN = str(VENV_BIN / "gunicorn")
START_TIMEOUT = 30.0
USERNAME = "bench"
PASSWORD = "bench-password-9f3k"
MIB = 1024 * 1024


# --- Output -------------------------------------------------------------------------


def heading(text: str) -> None:
    print(f"\n{text}\n{'-' * len(text)}", flush=True)


def say(text: str = "") -> None:
    print(text, flush=True)


def row(label: str, value: str, width: int = 34) -> None:
    print(f"  {label:<{width}} {value}", flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], pct: float) -> float:
    """The pct-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# --- Signals ------------------------------------------------------------------------


def _terminate_as_interrupt(signum, frame):  # noqa: ANN001
    raise KeyboardInterrupt(f"signal {signum}")


def install_signal_handlers() -> None:
    """SIGTERM/SIGHUP unwind like Ctrl-C, so every context manager stops its process.

    SIGINT gets Python's usual KeyboardInterrupt even when the shell started us with it
    ignored (a background job of a non-interactive shell)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _terminate_as_interrupt)


# --- /proc helpers (Linux) ------------------------------------------------------------


def _status_kib(pid: int, field_name: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field_name}:\s+(\d+)\s+kB", text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {field_name} in /proc/{pid}/status")
    return int(match.group(1))


def rss_kib(pid: int) -> int:
    """Resident set size now."""
    return _status_kib(pid, "VmRSS")


def hwm_kib(pid: int) -> int:
    """Peak resident set size since start or since the last reset_peak_rss()."""
    return _status_kib(pid, "VmHWM")


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (``echo 5 > /proc/<pid>/clear_refs``).

    Returns whether it took effect (VmHWM now within 1 MiB of VmRSS); older kernels and
    some sandboxes do not allow it, and callers then rely on sampling.
    """
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return hwm_kib(pid) <= rss_kib(pid) + 1024


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far, from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # after "(comm)"; utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(pid: int) -> float:
    """CPU time of the process's live threads, to the nanosecond (/proc/<pid>/task/*/schedstat).

    Finer than cpu_seconds() (clock ticks, 10 ms) for timing single requests; threads
    that already exited are not counted."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def children(pid: int) -> list[int]:
    """Direct children of pid: /proc/<pid>/task/*/children, else a scan of /proc/*/stat."""
    found: list[int] = []
    tasks = Path(f"/proc/{pid}/task")
    try:
        for task in tasks.iterdir():
            try:
                found.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                break
        else:
            return sorted(set(found))
    except OSError:
        pass
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 (ppid) comes after "(comm)", which may itself contain spaces.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return sorted(found)


class RssSampler:
    """Samples a process's VmRSS every `interval` seconds on a thread; keeps the maximum."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid = pid
        self.interval = interval
        self.max_kib = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        path = f"/proc/{self.pid}/status"
        pattern = re.compile(r"^VmRSS:\s+(\d+)", re.MULTILINE)
        while not self._stop.is_set():
            try:
                with open(path) as f:
                    match = pattern.search(f.read())
            except OSError:
                return
            if match:
                self.max_kib = max(self.max_kib, int(match.group(1)))
                self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- Images ---------------------------------------------------------------------------


def small_jpeg(seed: int = 0, size: tuple[int, int] = (640, 480)) -> bytes:
    """A small valid JPEG (a few KB), different per seed."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, ((seed * 53) % 256, (seed * 97) % 256, (seed * 31) % 256))
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.ellipse((w // 4, h // 4, 3 * w // 4, 3 * h // 4), fill=((seed * 11) % 256, 200, 120))
    draw.rectangle((10, 10, 80 + seed % 200, 60), fill=(250, 250, 250))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90)
    return out.getvalue()


def large_photos(
    folder: Path,
    count: int = 2,
    *,
    size: tuple[int, int] = (6000, 4000),
    low: int = 19 * MIB + 256 * 1024,
    high: int = 20 * MIB - 64 * 1024,
) -> list[Path]:
    """`count` JPEG photos of `size` pixels between `low` and `high` bytes, without EXIF.

    Photo-like content (smooth gradients and blotches) blended with grain; the grain's
    weight is searched until the quality-96 file lands in [low, high]. JPEG noise
    compresses poorly, which is what makes a 24 MP file this heavy, as with a real
    camera's high-ISO photo.
    """
    from PIL import Image, ImageFilter, ImageOps

    width, height = size
    gradient = Image.linear_gradient("L")
    blotches = (
        Image.effect_noise((width // 48, height // 48), 70)
        .filter(ImageFilter.GaussianBlur(2))
        .resize(size, Image.Resampling.BICUBIC)
    )
    channels = [gradient.resize(size), gradient.rotate(90).resize(size), blotches]
    grain = Image.merge("RGB", [Image.effect_noise(size, 64) for _ in range(3)])
    paths: list[Path] = []
    alpha_lo, alpha_hi = 0.2, 0.9
    for index in range(count):
        order = channels[index % 3 :] + channels[: index % 3]
        base = Image.merge("RGB", order)
        if index % 2:
            base = ImageOps.mirror(base)
        noise = grain if index % 2 == 0 else grain.transpose(Image.Transpose.ROTATE_180)
        lo, hi = alpha_lo, alpha_hi
        data = b""
        for _ in range(20):
            alpha = (lo + hi) / 2
            buffer = io.BytesIO()
            # No exif= argument: the file carries no EXIF (so no orientation tag).
            Image.blend(base, noise, alpha).save(buffer, format="JPEG", quality=96)
            data = buffer.getvalue()
            if len(data) > high:
                hi = alpha
            elif len(data) < low:
                lo = alpha
            else:
                break
        else:
            raise RuntimeError(f"could not make a photo between {low} and {high} bytes (last {len(data)})")
        # The next photo starts its search near this one's answer.
        alpha_lo, alpha_hi = max(0.05, alpha - 0.1), min(1.0, alpha + 0.1)
        path = folder / f"photo-{index + 1}.jpg"
        path.write_bytes(data)
        paths.append(path)
    return paths


# --- The dashboard ----------------------------------------------------------------------


def dashboard_env(tmp: Path, sim: SimulatorProcess, **extra: str) -> dict[str, str]:
    """Production-like settings pointed at the simulator, with all state in `tmp`."""
    env = {
        **os.environ,
        # bench_settings.py (written by write_settings) = dashboard.settings + STATIC_ROOT in tmp.
        "PYTHONPATH": os.pathsep.join([str(tmp), str(REPO)]),
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-only",
        "HTTPS": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "MEDIA_ROOT": str(tmp / "media"),
        "GENAPI_BASE_URL": sim.base_url,
        "GENAPI_API_KEY": sim.api_key,
        "LOG_LEVEL": "INFO",
        # The benches read the processes' logs (a genapi line per upstream call, the sync's
        # start): plain lines, whatever DEBUG's default format (JSON with DEBUG off).
        "LOG_FORMAT": "text",
        "PYTHONUNBUFFERED": "1",
        # Benchmarks send jobs and photos faster than a designer may (JOB_RATE_LIMIT_PER_MINUTE,
        # UPLOADS_PER_MINUTE, UPLOAD_MB_PER_MINUTE); they measure cost, not the limits, which
        # the tests cover.
        "JOB_RATE_LIMIT_PER_MINUTE": "0",
        "UPLOADS_PER_MINUTE": "0",
        "UPLOAD_MB_PER_MINUTE": "0",
    }
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


def write_settings(tmp: Path, extra: str = "") -> None:
    """The real settings with STATIC_ROOT moved into the temp dir (plus `extra` lines).

    With DEBUG=false the dashboard serves fingerprinted static files from a manifest that
    `collectstatic` writes to STATIC_ROOT; this keeps that out of the repository's var/.
    `extra` is Python appended to the settings file (e.g. DATABASES options).
    """
    (tmp / "bench_settings.py").write_text(
        textwrap.dedent(
            f"""\
            from dashboard.settings import *  # noqa: F403

            STATIC_ROOT = {str(tmp / "static")!r}
            """
        )
        + textwrap.dedent(extra)
    )


def manage(env: dict[str, str], *args: str) -> str:
    completed = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}"
        )
    return completed.stdout


def prepare_database(env: dict[str, str], usernames: Sequence[str] = (USERNAME,)) -> None:
    """migrate, collectstatic, and designers with PASSWORD."""
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "collectstatic", "--no-input", "-v", "0")
    names = ", ".join(repr(name) for name in usernames)
    # The password is hashed once (a hash takes ~0.3 s) and shared: many designers stay quick.
    manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\n"
        "from django.contrib.auth.hashers import make_password\n"
        "User = get_user_model()\n"
        f"hashed = make_password({PASSWORD!r})\n"
        f"User.objects.bulk_create([User(username=name, password=hashed) for name in ({names},)])\n",
    )


def count_queries(
    env: dict[str, str], cases: Sequence[tuple[str, dict[str, str]]], username: str = USERNAME
) -> list[dict]:
    """The SQL queries of single requests, counted in-process (`manage.py shell` with the
    bench's settings: Django's test client logged in as `username`, CaptureQueriesContext,
    one request after a warm-up each): [{"path", "status", "queries"}] in `cases`' order.

    A count, so unlike a time it does not depend on what else the machine runs."""
    code = textwrap.dedent(
        f"""\
        import json
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(get_user_model().objects.get(username={username!r}))
        found = []
        for path, headers in {list(cases)!r}:
            client.get(path, headers=headers)
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path, headers=headers)
            found.append({{"path": path, "status": response.status_code, "queries": len(captured.captured_queries)}})
        print("QUERIES " + json.dumps(found))
        """
    )
    out = manage(env, "shell", "-c", code)
    line = next(line for line in out.splitlines() if line.startswith("QUERIES "))
    return json.loads(line.removeprefix("QUERIES "))


procfile_web_command = web_command  # the Procfile's `web:` (tests/support/procfile.py)


class Gunicorn:
    """The dashboard's web process on a free port; output goes to a log file.

    web="procfile" (the default): the Procfile's `web:` command (procfile_web_command:
    gunicorn with uvicorn's worker on dashboard.asgi, pages on a pool of WEB_THREADS
    threads, /events/ streams); `threads` > 1 sets WEB_THREADS. Its access log (the
    Procfile's, on stdout, so in the log file) has no request durations.
    web="wsgi": `gunicorn dashboard.wsgi -w N`, kept for the benches that time requests by
    gunicorn's own access log (%(D)s, which uvicorn's worker does not write): threads > 1
    adds `--threads N` (gthread workers); access_log (a path) adds gunicorn's access log
    there, one line per request: method, path, status, and the worker's time on it in
    microseconds (ACCESS_LOG_FORMAT)."""

    ACCESS_LOG_FORMAT = "%(m)s %(U)s %(s)s %(D)s"

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        workers: int = 1,
        threads: int = 1,
        access_log: Path | None = None,
        web: str = "procfile",
    ) -> None:
        if web not in ("procfile", "wsgi"):
            raise ValueError(f"web is 'procfile' or 'wsgi', not {web!r}")
        if web == "procfile" and access_log is not None:
            raise ValueError("gunicorn's access log with durations needs web='wsgi' (uvicorn's worker writes its own)")
        self.env = {**env, "WEB_THREADS": str(threads)} if web == "procfile" and threads > 1 else env
        self.log_path = log_path
        self.workers = workers
        self.threads = threads
        self.access_log = access_log
        self.web = web
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log = None

    def command(self) -> list[str]:
        if self.web == "procfile":
            # A short graceful timeout: a stop never waits 30 s for open event streams.
            return [
                *procfile_web_command(self.port, workers=self.workers),
                "--timeout",
                "120",
                "--graceful-timeout",
                "5",
            ]
        return [
            GUNICORN,
            "dashboard.wsgi",
            "-w",
            str(self.workers),
            "-b",
            f"127.0.0.1:{self.port}",
            "--timeout",
            "120",
            "--graceful-timeout",
            "5",
            # No shared socket in ~/.gunicorn: parallel benchmark runs do not collide.
            "--no-control-socket",
            *(["--threads", str(self.threads)] if self.threads > 1 else []),
            *(
                ["--access-logfile", str(self.access_log), "--access-logformat", self.ACCESS_LOG_FORMAT]
                if self.access_log
                else []
            ),
        ]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Gunicorn:
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command(),
            cwd=REPO,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own process group: Ctrl-C reaches only us, and we stop it in order.
            start_new_session=True,
        )
        try:
            self._wait_until_ready()
        except BaseException:
            # Also on Ctrl-C or an unexpected error: __exit__ never runs when __enter__ fails.
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.base_url}/login/", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                # Not listening yet, or (on a busy machine) still loading Django: a read timeout.
                pass
            time.sleep(0.1)
        raise RuntimeError(
            f"the dashboard did not answer on {self.base_url} within {START_TIMEOUT:.0f}s:\n{self.log_tail()}"
        )

    @property
    def description(self) -> str:
        """How it serves, e.g. "gunicorn -w 4 (sync workers)"."""
        if self.web == "procfile":
            threads = self.env.get("WEB_THREADS", "8 (default)")
            return (
                f"the Procfile's web: gunicorn -w {self.workers}, uvicorn worker, dashboard.asgi, WEB_THREADS {threads}"
            )
        if self.threads > 1:
            return f"gunicorn -w {self.workers} --threads {self.threads} (gthread workers)"
        return f"gunicorn -w {self.workers} (sync workers)"

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        return children(self.process.pid)

    def wait_for_workers(self, timeout: float = 10) -> list[int]:
        """The workers' PIDs, once all `workers` of them have started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            if len(pids) == self.workers:
                return pids
            time.sleep(0.05)
        raise RuntimeError(f"expected {self.workers} gunicorn workers, found {self.worker_pids()}")

    def worker_pid(self) -> int:
        """The single worker's PID (the gunicorn master's one child)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            if len(pids) == self.workers == 1:
                return pids[0]
            time.sleep(0.05)
        raise RuntimeError(f"expected one gunicorn worker, found {self.worker_pids()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # gunicorn: graceful shutdown of its workers
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SyncProcess:
    """`python manage.py sync_index` (the Procfile's `sync`) in its own process group, its
    output (with the genapi line of every upstream call it makes) in a log file.

    start() returns once the sync has started (its "sync ... started" log line); stop()
    sends SIGTERM (it finishes its tick and gives its lease back), then SIGKILL after 15 s.
    Paced by the SYNC_* settings of `env`: the deployment's defaults unless a bench sets
    them."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log = None
        self.started = 0.0  # time.monotonic() when it was started

    def start(self) -> SyncProcess:
        self._log = open(self.log_path, "ab")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [PYTHON, "manage.py", "sync_index"],
            cwd=REPO,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own process group: Ctrl-C reaches only us, and we stop it in order.
            start_new_session=True,
        )
        try:
            self._wait_until_started()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_started(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            self.check_alive()
            if re.search(r"^.* sync \S+ started\b", self.log_text(), re.MULTILINE):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the sync process did not start within {START_TIMEOUT:.0f}s:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"the sync process exited with code {self.process.returncode}:\n{self.log_tail()}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # the sync: stops after its tick, gives its lease back
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> SyncProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- Upstream calls, by the process that made them ---------------------------------------

# Bound fields (tick=..., request_id=...) may follow the call on its line.
CALL_LINE = re.compile(r"genapi (GET|POST|PUT|PATCH|DELETE) (/\S*) (\S+) ([\d.]+)ms\b")


def normalized_path(path: str) -> str:
    """An upstream path with its ids as {id} (a history item, an image file name)."""
    path = re.sub(r"^(/user/generation-history/)(?!feedback/)[A-Za-z0-9_-]+$", r"\1{id}", path)
    return re.sub(r"/[0-9a-f]{24}(?=\.\w+$|/|$)", "/{id}", path)


def log_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def logged_calls(path: Path, offset: int = 0) -> Counter[str]:
    """The upstream calls a process logged after `offset` bytes of its log, by method and
    path ("GET /user/generation-history/{id}"); a call is logged when it ends."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return Counter()
    counter: Counter[str] = Counter()
    for line in text.splitlines():
        match = CALL_LINE.search(line)
        if match:
            counter[f"{match.group(1)} {normalized_path(match.group(2))}"] += 1
    return counter


def is_pending_listing(entry: dict) -> bool:
    """A simulator access-log entry that is a listing of the running results (status=pending):
    the sync's running duty; no page asks it."""
    return (
        entry["method"] == "GET"
        and entry["path"] == "/user/generation-history"
        and "pending" in parse_qs(entry.get("query", "")).get("status", [])
    )


# --- Waiting for the index ------------------------------------------------------------------


@dataclass(frozen=True)
class IndexCounts:
    """What the sync has read so far (SyncState and the index's rows)."""

    first_sync_done: bool
    catalogue: bool
    indexed: int
    pending: int


def index_counts(query: Callable[[str], list[tuple]]) -> IndexCounts:
    """Read with `query` (SQL without parameters, SQLite or PostgreSQL); all zero before migrate."""
    try:
        state = query("SELECT first_sync_done, catalogue IS NOT NULL FROM dashboard_syncstate WHERE name = 'history'")
        rows = query(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0)"
            " FROM dashboard_indexedresult"
        )
    except Exception:  # noqa: BLE001 (a locked or not yet migrated database: not yet)
        return IndexCounts(False, False, 0, 0)
    done, catalogue = (bool(state[0][0]), bool(state[0][1])) if state else (False, False)
    return IndexCounts(done, catalogue, int(rows[0][0]), int(rows[0][1]))


def upstream_counts(sim: SimulatorProcess) -> tuple[int, int]:
    """(results, of which running) as the simulator lists them (two calls, not the dashboard's)."""
    totals = []
    for params in ({"limit": 1}, {"limit": 1, "status": "pending"}):
        response = requests.get(
            f"{sim.base_url}/user/generation-history", params=params, headers=sim.headers, timeout=10
        )
        response.raise_for_status()
        totals.append(int(response.json()["total_count"]))
    return totals[0], totals[1]


def wait_for_index(
    sim: SimulatorProcess,
    query: Callable[[str], list[tuple]],
    *,
    sync: SyncProcess | None = None,
    settled: bool = False,
    timeout: float = 120.0,
) -> float:
    """Wait until the sync has read the upstream's history: its first sync done, the
    catalogue kept and every result the simulator lists indexed; `settled`: also no more
    results running in the index than upstream (the ends the upstream reached are read).
    Returns the seconds waited. The follow duty notices results seeded after the first
    sync within SYNC_FOLLOW_SECONDS (10 s by default)."""
    started = time.monotonic()
    while True:
        if sync is not None:
            sync.check_alive()
        counts = index_counts(query)
        if counts.first_sync_done and counts.catalogue:
            total, pending = upstream_counts(sim)
            if counts.indexed >= total and (not settled or counts.pending <= pending):
                return time.monotonic() - started
        else:
            total = pending = -1
        if time.monotonic() - started > timeout:
            raise RuntimeError(
                f"the sync had not read the seeded history after {timeout:.0f} s: {counts}, upstream {total} results,"
                f" {pending} running" + (f"\n{sync.log_tail()}" if sync else "")
            )
        time.sleep(0.25)


def login(base_url: str, username: str = USERNAME, password: str = PASSWORD) -> requests.Session:
    """A logged-in session: GET /login/, then POST the form with its CSRF token."""
    session = requests.Session()
    page = session.get(f"{base_url}/login/", timeout=10)
    page.raise_for_status()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if match is None:
        raise RuntimeError("no csrfmiddlewaretoken on the login page")
    response = session.post(
        f"{base_url}/login/",
        data={"csrfmiddlewaretoken": match.group(1), "username": username, "password": password, "next": "/"},
        headers={"Referer": f"{base_url}/login/"},
        allow_redirects=False,
        timeout=10,
    )
    if response.status_code != 302 or "sessionid" not in session.cookies:
        raise RuntimeError(f"login as {username} failed: {response.status_code}")
    return session


# --- The whole stack --------------------------------------------------------------------


@dataclass
class Stack:
    tmp: Path
    sim: SimulatorProcess
    dashboard: Gunicorn
    env: dict[str, str]
    session: requests.Session
    sessions: dict[str, requests.Session] = field(default_factory=dict)
    sync: SyncProcess | None = None

    def url(self, path: str) -> str:
        return f"{self.dashboard.base_url}{path}"

    def wait_for_index(self, *, settled: bool = False, timeout: float = 120.0) -> float:
        """Until the sync has read what the simulator holds (see wait_for_index); seconds waited."""
        if self.sync is None:
            raise RuntimeError("this stack runs no sync process (bench_stack(sync=False))")
        return wait_for_index(self.sim, self.query, sync=self.sync, settled=settled, timeout=timeout)

    def index_counts(self) -> IndexCounts:
        return index_counts(self.query)

    def mark(self) -> dict[str, int]:
        """Where the dashboard's and the sync's logs end now: for calls_since()."""
        marks = {"dashboard": log_size(self.dashboard.log_path)}
        if self.sync is not None:
            marks["sync"] = log_size(self.sync.log_path)
        return marks

    def calls_since(self, mark: dict[str, int]) -> dict[str, Counter[str]]:
        """The upstream calls each process made since `mark`: {"dashboard": ..., "sync": ...},
        each by method and path (from their own logs: the simulator's access log mixes them)."""
        found = {"dashboard": logged_calls(self.dashboard.log_path, mark.get("dashboard", 0))}
        if self.sync is not None:
            found["sync"] = logged_calls(self.sync.log_path, mark.get("sync", 0))
        return found

    @property
    def db_path(self) -> Path:
        return self.tmp / "db.sqlite3"

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """Read the dashboard's database directly (read-only, outside the app)."""
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10) as db:
            return db.execute(sql, params).fetchall()

    def job_count(self, username: str | None = None) -> int:
        if username is None:
            return self.query("SELECT COUNT(*) FROM dashboard_job")[0][0]
        return self.query(
            "SELECT COUNT(*) FROM dashboard_job j JOIN auth_user u ON u.id = j.designer_id WHERE u.username = ?",
            (username,),
        )[0][0]

    def recent_job_ids(self, username: str, limit: int) -> list[str]:
        rows = self.query(
            "SELECT j.history_item_id FROM dashboard_job j JOIN auth_user u ON u.id = j.designer_id "
            "WHERE u.username = ? ORDER BY j.created_at DESC, j.id DESC LIMIT ?",
            (username, limit),
        )
        return [r[0] for r in rows]

    def csrf(self, session: requests.Session | None = None) -> str:
        return (session or self.session).cookies["csrftoken"]

    def create_job(
        self,
        files: dict[str, tuple[str, object, str]],
        *,
        tool: str = "fashion_swap",
        session: requests.Session | None = None,
        timeout: float = 120,
    ) -> requests.Response:
        """POST / as the form does without htmx; 303 means the job was sent upstream."""
        session = session or self.session
        return session.post(
            self.url("/"),
            # A fresh one-time token per send, as a newly drawn form carries.
            data={"tool": tool, "submission": secrets.token_urlsafe(18), "csrfmiddlewaretoken": self.csrf(session)},
            files=files,
            headers={"Referer": self.url("/")},
            allow_redirects=False,
            timeout=timeout,
        )

    def tray(self, session: requests.Session | None = None) -> requests.Response:
        """One poll of the recent-jobs tray, as htmx sends it."""
        return (session or self.session).get(self.url("/jobs/tray"), headers={"HX-Request": "true"}, timeout=30)


def count_calls(entries: Sequence[dict]) -> Counter[str]:
    """Upstream calls grouped by method and path (ids in paths replaced by {id})."""
    counter: Counter[str] = Counter()
    for entry in entries:
        path = re.sub(r"^(/user/generation-history/)(?!feedback/)[A-Za-z0-9_-]+$", r"\1{id}", entry["path"])
        counter[f"{entry['method']} {path}"] += 1
    return counter


@contextmanager
def bench_stack(
    name: str,
    *,
    usernames: Sequence[str] = (USERNAME,),
    sim_env: dict[str, str] | None = None,
    dashboard_extra_env: dict[str, str] | None = None,
    keep: bool = False,
    workers: int = 1,
    threads: int = 1,
    settings_extra: str = "",
    access_log: bool = False,
    sync: bool = True,
    sync_extra_env: dict[str, str] | None = None,
    web: str = "procfile",
) -> Iterator[Stack]:
    """Temp dir + simulator + migrated database + gunicorn dashboard + the sync process +
    logged-in sessions.

    web: "procfile" (the default), the web process as the Procfile declares it (gunicorn,
    uvicorn's worker, dashboard.asgi; threads > 1 sets WEB_THREADS), or "wsgi" (gunicorn
    on dashboard.wsgi), for a bench that times requests by gunicorn's access log (see
    Gunicorn). workers/threads: gunicorn's -w and --threads (default: one sync worker); settings_extra:
    Python appended to the bench settings file (see write_settings); access_log: gunicorn
    writes tmp/access.log (see Gunicorn.ACCESS_LOG_FORMAT); sync: run `manage.py
    sync_index` beside gunicorn, as a deployment does (its log: tmp/sync.log; False for a
    bench that fills the index itself), with the same environment plus `sync_extra_env`
    (e.g. its own SYNC_* pacing). Many designers log in in parallel. Stops every process
    and removes the temp dir on exit, whatever the reason (normal end, exception, Ctrl-C,
    SIGTERM). Set the environment variable BENCH_KEEP=1 to keep the temp dir (logs).
    """
    install_signal_handlers()
    keep = keep or os.environ.get("BENCH_KEEP") == "1"
    with ExitStack() as stack:
        if keep:
            tmp = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        else:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"bench-{name}-")))
        sim = stack.enter_context(SimulatorProcess(tmp / "simulator", env=sim_env))
        env = dashboard_env(tmp, sim, **(dashboard_extra_env or {}))
        write_settings(tmp, settings_extra)
        prepare_database(env, usernames)
        dashboard = stack.enter_context(
            Gunicorn(
                env,
                tmp / "gunicorn.log",
                workers=workers,
                threads=threads,
                access_log=tmp / "access.log" if access_log else None,
                web=web,
            )
        )
        # Entered after gunicorn, so left before it: the sync stops first, then the pages.
        syncer = stack.enter_context(SyncProcess({**env, **(sync_extra_env or {})}, tmp / "sync.log")) if sync else None
        with ThreadPoolExecutor(max_workers=min(8, len(usernames))) as pool:
            logged_in = list(pool.map(lambda username: login(dashboard.base_url, username), usernames))
        sessions = dict(zip(usernames, logged_in, strict=True))
        try:
            yield Stack(
                tmp=tmp,
                sim=sim,
                dashboard=dashboard,
                env=env,
                session=sessions[usernames[0]],
                sessions=sessions,
                sync=syncer,
            )
        except Exception:
            tail = dashboard.log_tail()
            if tail:
                print(f"\n--- last lines of the dashboard's log ({tmp / 'gunicorn.log'}) ---\n{tail}", file=sys.stderr)
            sync_tail = syncer.log_tail() if syncer else ""
            if sync_tail:
                print(f"\n--- last lines of the sync's log ({tmp / 'sync.log'}) ---\n{sync_tail}", file=sys.stderr)
            raise
        finally:
            if keep:
                print(f"(kept {tmp})", file=sys.stderr)


def main_guard(main) -> None:  # noqa: ANN001
    """Run main() and exit with its code; 130 on Ctrl-C (other errors: traceback, exit 1)."""
    try:
        code = main()
    except KeyboardInterrupt:
        print("\ninterrupted; stopped the simulator, the dashboard and the sync", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
