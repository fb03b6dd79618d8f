"""What a Redis outage costs: page times and upstream calls with Redis up, stopped, and hung.

gunicorn (one worker, 4 threads) and the sync process, both with REDIS_URL on a private
redis-server, pointed at the simulator seeded with SEED_ITEMS history items (the sync has
read them before anything is measured) and one job of the designer's still running. For
each page a logged-in designer opens (generate, gallery, a tray tick) and for /healthz,
20 requests are timed and the upstream calls the dashboard made for them are counted
from its own log (the simulator's access log also sees the sync's calls, which are
counted apart, over each state's whole measurement), in three states:

  up       Redis answers
  stopped  the process is gone: connections are refused at once
  hung     the process is frozen (SIGSTOP): connections hang until REDIS_TIMEOUT (1 s),
           then the worker works without Redis for REDIS_RETRY_SECONDS (5 s)

Pages read the index in the database, and the tool and style titles of results come from
the sync's catalogue snapshot there too: the gallery and the tray make no upstream call
with or without Redis. The Generate form's catalogue (tools and their styles) is still
read through the cache, so without Redis each Generate page asks the upstream for it.

Every response must still be a 200 (503 for /healthz without Redis); the figures are
printed, not judged.

Run: .venv/bin/python bench/redis_outage.py   (prints figures; asserts nothing about them)
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

from support import bench_stack, heading, main_guard, median, say, small_jpeg

from tests.support.services import RedisServer

REQUESTS = 20
SEED_ITEMS = 40
PAGES = [
    ("generate page", "/", {}),
    ("gallery", "/history/", {}),
    ("tray tick", "/jobs/tray", {"HX-Request": "true"}),
    ("/healthz", "/healthz", {}),
]
STATES = ("up", "stopped", "hung")


def measure(stack, path: str, headers: dict[str, str]) -> tuple[list[float], float, set[int], Counter[str]]:
    """(times in ms, the dashboard's upstream calls per request, status codes, those calls) over REQUESTS requests."""
    mark = stack.mark()
    times, statuses = [], set()
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = stack.session.get(f"{stack.dashboard.base_url}{path}", headers=headers, timeout=60)
        times.append((time.perf_counter() - started) * 1000)
        statuses.add(response.status_code)
    calls = stack.calls_since(mark)["dashboard"]
    return times, sum(calls.values()) / REQUESTS, statuses, calls


def measure_all(stack) -> tuple[dict, Counter[str], float]:
    """Every page in turn; the sync's calls over the whole time, and that time."""
    mark, started = stack.mark(), time.monotonic()
    found = {label: measure(stack, path, headers) for label, path, headers in PAGES}
    return found, stack.calls_since(mark)["sync"], time.monotonic() - started


def main() -> int:
    heading("redis_outage: page times and upstream calls with Redis up, stopped and hung")
    with (
        RedisServer() as redis_server,
        bench_stack("redis_outage", dashboard_extra_env={"REDIS_URL": redis_server.url}, threads=4) as stack,
    ):
        stack.sim.seed(SEED_ITEMS)
        stack.sim.configure(job_seconds=600)
        job = stack.create_job(
            {
                "clothes": ("garment.jpg", small_jpeg(1), "image/jpeg"),
                "person": ("model.jpg", small_jpeg(2), "image/jpeg"),
            }
        )
        if job.status_code != 303:
            say(f"  the job was not sent: HTTP {job.status_code}")
            return 1
        waited = stack.wait_for_index()
        say(f"  {SEED_ITEMS} seeded results and one running job; the sync had read them after {waited:.1f} s")
        results: dict[str, dict] = {}
        sync_calls: dict[str, tuple[Counter[str], float]] = {}
        for _, path, headers in PAGES:  # warm the caches
            for _ in range(3):
                stack.session.get(f"{stack.dashboard.base_url}{path}", headers=headers, timeout=60)

        results["up"], *sync_calls["up"] = measure_all(stack)

        pid = redis_server._process.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            results["hung"], *sync_calls["hung"] = measure_all(stack)
        finally:
            os.kill(pid, signal.SIGCONT)

        redis_server.stop()
        time.sleep(5.5)  # let the retry window of the hung phase pass: a clean start
        results["stopped"], *sync_calls["stopped"] = measure_all(stack)

        say(
            f"{REQUESTS} requests per page and state; times in ms (median / max); the dashboard's upstream calls per request"
        )
        say(f"{'page':<15}" + "".join(f"{state:>30}" for state in STATES))
        for label, _, _ in PAGES:
            cells = []
            for state in STATES:
                times, calls, statuses, _ = results[state][label]
                codes = ",".join(str(code) for code in sorted(statuses))
                cells.append(f"{median(times):7.1f} / {max(times):6.1f}  {calls:4.2f}  [{codes}]")
            say(f"{label:<15}" + "".join(f"{cell:>30}" for cell in cells))
        say("")
        say("which upstream calls the pages made (all requests of a page and state):")
        for label, _, _ in PAGES:
            for state in STATES:
                calls = results[state][label][3]
                if calls:
                    say(f"  {label:<15} {state:<8} " + ", ".join(f"{n} x {name}" for name, n in sorted(calls.items())))
        say("")
        say("the sync process meanwhile (its own log; it reads the upstream the same with or without Redis):")
        for state in STATES:
            calls, seconds = sync_calls[state]
            say(
                f"  {state:<8} {sum(calls.values()):>3} calls in {seconds:.1f} s = {sum(calls.values()) / seconds:.2f}/s"
            )
        warnings = stack.dashboard.log_tail(2000).count("Redis cache at")
        say(f"warnings logged by the worker about Redis: {warnings}")
    return 0


if __name__ == "__main__":
    main_guard(main)
