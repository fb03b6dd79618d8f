"""How long things take to fail, or to be refused: the figures the tests no longer time.

The tests assert what happens (what was slept, what reached the simulator, in which
order); how long it takes is printed here, each figure the median of RUNS tries, client
wall time, next to the bound the tests used to assert:

  1. the simulator: an API request with 0 and 400 ms of added latency, and a control
     request (/_simulator/health) meanwhile (goal: the API request takes >= the latency,
     control requests stay under 300 ms); seeding 50 history items while it runs
     (goal: under 15 s);
  2. dashboard.genapi's client against the simulator: a long rate-limit window refused
     (goal: under 2 s), a short one waited out (under 3.5 s), a slow service given up on
     for a read and for a job upload (0.5 s timeouts, 1.5 s latency: under 3 s each),
     nothing listening (under 3 s);
  3. dashboard.images: refusing a 30000 x 30000 PNG from its header (goal: under 1 s);
  4. the dashboard under gunicorn (1 s upstream timeouts, one retry for reads, as in
     tests/genapi/test_faults.py), with the sync process beside it (bench_stack): the
     generate page, the tray, the gallery and a job upload under each fault (goal:
     under 8 s a page; 2 s when rate limited or answered by something that is not the
     API, 3 s when nothing listens), and the upstream calls each made (the dashboard's
     own log). The tray and the gallery read the index, which the sync keeps, so they
     make no upstream call and answer at once under every fault; the generate page
     reads its catalogue from the cache (warmed first); the job upload meets the fault.

Run: .venv/bin/python bench/give_up_times.py   (prints figures; asserts nothing about them)
"""

from __future__ import annotations

import io
import struct
import time
import zlib
from collections.abc import Callable

import django
import requests
from django.conf import settings
from support import bench_stack, heading, main_guard, median, say, small_jpeg

RUNS = 5
LATENCY_MS = 400
SEED_ITEMS = 50

# The faults of tests/genapi/test_faults.py: (name, knobs, goal in seconds a page).
FAULTS = [
    ("slow (2.5 s latency)", {"latency_ms": 2500}, 8.0),
    ("server error (500)", {"error_rate": 1.0}, 8.0),
    ("bad gateway (502 HTML)", {"error_rate": 1.0, "error_body": "html"}, 8.0),
    ("rate limited (1/60)", {"rate_limit": "1/60"}, 2.0),
    ("refused (nothing listens)", None, 3.0),
    ("HTML page with 200", {"bad_body": "html"}, 2.0),
    ("truncated JSON", {"bad_body": "json"}, 2.0),
]
MENDED = {"latency_ms": 0, "error_rate": 0.0, "error_body": "json", "rate_limit": None, "bad_body": None}


def seconds(call: Callable[[], object]) -> tuple[float, str]:
    """Wall time of one call and what it ended with (a status, a class name or 'ok')."""
    started = time.perf_counter()
    try:
        result = call()
    except Exception as exc:  # noqa: BLE001 - the outcome is printed
        return time.perf_counter() - started, type(exc).__name__
    outcome = str(result.status_code) if isinstance(result, requests.Response) else "ok"
    return time.perf_counter() - started, outcome


def report(label: str, times: list[float], outcomes: set[str], goal: str, met: bool) -> None:
    say(
        f"  {label:<46} {median(times) * 1000:8.1f} ms  (max {max(times) * 1000:7.1f})"
        f"  -> {', '.join(sorted(outcomes)):<22} goal {goal}: {'met' if met else 'MISSED'}"
    )


def huge_png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def main() -> int:
    heading("give_up_times: how long failures and refusals take (the tests assert no time)")
    settings.configure(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
    django.setup()
    from dashboard import genapi
    from dashboard.core.images import inspect_image
    from tests.support.simulator import free_port

    with bench_stack(
        "give_up_times",
        dashboard_extra_env={"GENAPI_READ_TIMEOUT": "1", "GENAPI_UPLOAD_TIMEOUT": "1", "GENAPI_READ_RETRIES": "1"},
    ) as stack:
        sim = stack.sim
        api = requests.Session()
        api.headers.update(sim.headers)

        # --- 1. The simulator ------------------------------------------------------------
        heading(f"1. the simulator (median of {RUNS})")
        for latency in (0, LATENCY_MS):
            sim.configure(latency_ms=latency)
            tries = [seconds(lambda: api.get(f"{sim.base_url}/generation/tools", timeout=10)) for _ in range(RUNS)]
            times = [t for t, _ in tries]
            report(
                f"GET /generation/tools, latency {latency} ms",
                times,
                {o for _, o in tries},
                f">= {latency} ms",
                min(times) >= latency / 1000,
            )
            tries = [
                seconds(lambda: requests.get(f"{sim.base_url}/_simulator/health", timeout=10)) for _ in range(RUNS)
            ]
            times = [t for t, _ in tries]
            report(
                f"GET /_simulator/health, latency {latency} ms",
                times,
                {o for _, o in tries},
                "< 300 ms",
                max(times) < 0.3,
            )
        sim.configure(**MENDED)
        took, outcome = seconds(lambda: sim.seed(SEED_ITEMS))
        report(f"seed {SEED_ITEMS} items while it runs (once)", [took], {outcome}, "< 15 s", took < 15)

        # --- 2. The API client -----------------------------------------------------------
        heading(f"2. dashboard.genapi against the simulator (median of {RUNS} unless said)")

        def client(**options: float) -> genapi.GenApiClient:
            return genapi.GenApiClient(sim.base_url, sim.api_key, read_retries=0, **options)

        long_window, short_window = [], []
        for _ in range(RUNS):
            sim.configure(rate_limit="2/60")
            c = client()
            c.tools()
            c.tools()
            long_window.append(seconds(c.tools))
            sim.configure(rate_limit=None)
        times = [t for t, _ in long_window]
        report("long rate-limit window (2/60): refused", times, {o for _, o in long_window}, "< 2 s", max(times) < 2)
        for _ in range(2):  # each waits out its window: 1-2 s
            sim.configure(rate_limit="1/2")
            c = client()
            c.tools()
            short_window.append(seconds(c.tools))
            sim.configure(rate_limit=None)
        times = [t for t, _ in short_window]
        report(
            "short window (1/2): waited out (median of 2)",
            times,
            {o for _, o in short_window},
            "< 3.5 s",
            max(times) < 3.5,
        )

        sim.configure(latency_ms=1500)
        photos = {"clothes": small_jpeg(1), "person": small_jpeg(2)}

        def upload(c: genapi.GenApiClient) -> object:
            files = [
                genapi.UploadFile(slot, f"{slot}.jpg", io.BytesIO(data), "image/jpeg") for slot, data in photos.items()
            ]
            return c.create_job("fashion_swap", files)

        slow_reads = [seconds(client(read_timeout=0.5, upload_timeout=0.5).tools) for _ in range(RUNS)]
        slow_uploads = [seconds(lambda: upload(client(read_timeout=0.5, upload_timeout=0.5))) for _ in range(RUNS)]
        sim.configure(**MENDED)
        for label, tries in (
            ("slow service (1.5 s), 0.5 s timeout: a read", slow_reads),
            ("slow service (1.5 s), 0.5 s timeout: an upload", slow_uploads),
        ):
            times = [t for t, _ in tries]
            report(label, times, {o for _, o in tries}, "< 3 s", max(times) < 3)
        nobody = f"http://127.0.0.1:{free_port()}"
        tries = [seconds(genapi.GenApiClient(nobody, "any-key", read_retries=0).tools) for _ in range(RUNS)]
        times = [t for t, _ in tries]
        report("nothing listening: a read", times, {o for _, o in tries}, "< 3 s", max(times) < 3)

        # --- 3. Images -------------------------------------------------------------------
        heading(f"3. dashboard.images (median of {RUNS})")
        bomb = huge_png_header(30000, 30000)

        def refuse() -> object:  # ends in ImageRejected; "ok" would mean it was accepted
            return inspect_image(io.BytesIO(bomb), max_bytes=20 * 1024 * 1024, max_pixels=40_000_000)

        tries = [seconds(refuse) for _ in range(RUNS)]
        times = [t for t, _ in tries]
        report("30000 x 30000 PNG refused from its header", times, {o for _, o in tries}, "< 1 s", max(times) < 1)

        # --- 4. The dashboard under faults ------------------------------------------------
        heading("4. the dashboard under each fault (gunicorn, 1 s timeouts, 1 read retry; one try each)")
        session = stack.session
        pages: dict[str, Callable[[], requests.Response]] = {
            "GET /": lambda: session.get(stack.url("/"), timeout=60),
            "GET /jobs/tray": lambda: stack.tray(),
            "GET /history/": lambda: session.get(stack.url("/history/"), timeout=60),
            "POST / (a job)": lambda: stack.create_job(
                {
                    "clothes": ("garment.jpg", photos["clothes"], "image/jpeg"),
                    "person": ("model.jpg", photos["person"], "image/jpeg"),
                },
                timeout=60,
            ),
        }
        # Warm-up: the catalogue is cached, as a designer's worker would have it, and one job
        # stays running, so the tray shows a running job under every fault (from the index:
        # the sync, not the tray, meets the fault when it asks the upstream about it).
        sim.configure(job_seconds=600)
        for page in pages.values():
            page()
        stack.wait_for_index()
        say(f"  {'fault':<28}" + "".join(f"{name:>17}" for name in pages) + "   goal")
        for name, knobs, goal in FAULTS:
            if knobs is None:
                sim.stop()
            else:
                sim.configure(**knobs)
                if "rate_limit" in knobs:
                    api.get(f"{sim.base_url}/generation/tools", timeout=10)  # uses up the one request allowed
            try:
                tries, calls = [], []
                for page in pages.values():
                    mark = stack.mark()
                    tries.append(seconds(page))
                    calls.append(stack.calls_since(mark)["dashboard"].total())
            finally:
                if knobs is None:
                    sim.start()
                else:
                    sim.configure(**MENDED)
            slowest = max(t for t, _ in tries)
            cells = "".join(f"{t * 1000:>9.0f} ms {o:>4}" for t, o in tries)
            say(f"  {name:<28}{cells}   < {goal:g} s: {'met' if slowest < goal else 'MISSED'}")
            say(f"  {'  upstream calls':<28}" + "".join(f"{n:>17}" for n in calls))
        say("  (each cell: wall time and HTTP status; the job upload answers 303 when it was sent;")
        say("   upstream calls: the calls the dashboard logged for that request; urllib3's read retries not counted)")
    return 0


if __name__ == "__main__":
    main_guard(main)
