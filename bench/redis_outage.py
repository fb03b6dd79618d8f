"""What a Redis outage costs: page times and API calls with Redis up, stopped, and hung.

gunicorn (one worker, 4 threads) with REDIS_URL on a private redis-server, pointed at the
simulator. For each page a logged-in designer opens (generate, gallery, a tray tick) and
for /healthz, 20 requests are timed and the simulator's access log counts the API calls
they caused, in three states:

  up       Redis answers
  stopped  the process is gone: connections are refused at once
  hung     the process is frozen (SIGSTOP): connections hang until REDIS_TIMEOUT (1 s),
           then the worker works without Redis for REDIS_RETRY_SECONDS (5 s)

Every response must still be a 200 (503 for /healthz without Redis); the figures are
printed, not judged.

Run: .venv/bin/python bench/redis_outage.py   (prints figures; asserts nothing about them)
"""

from __future__ import annotations

import os
import signal
import time

from support import bench_stack, heading, main_guard, median, say

from tests.support.services import RedisServer

REQUESTS = 20
PAGES = [
    ("generate page", "/", {}),
    ("gallery", "/history/", {}),
    ("tray tick", "/jobs/tray", {"HX-Request": "true"}),
    ("/healthz", "/healthz", {}),
]


def measure(stack, path: str, headers: dict[str, str]) -> tuple[list[float], float, set[int]]:
    """(times in ms, API calls per request, status codes) over REQUESTS requests."""
    stack.sim.clear_requests()
    times, statuses = [], set()
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = stack.session.get(f"{stack.dashboard.base_url}{path}", headers=headers, timeout=60)
        times.append((time.perf_counter() - started) * 1000)
        statuses.add(response.status_code)
    return times, len(stack.sim.requests()) / REQUESTS, statuses


def main() -> int:
    heading("redis_outage: page times and API calls with Redis up, stopped and hung")
    with (
        RedisServer() as redis_server,
        bench_stack("redis_outage", dashboard_extra_env={"REDIS_URL": redis_server.url}, threads=4) as stack,
    ):
        results: dict[str, dict[str, tuple[list[float], float, set[int]]]] = {}
        for _, path, headers in PAGES:  # warm the caches
            for _ in range(3):
                stack.session.get(f"{stack.dashboard.base_url}{path}", headers=headers, timeout=60)

        results["up"] = {label: measure(stack, path, headers) for label, path, headers in PAGES}

        pid = redis_server._process.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            results["hung"] = {label: measure(stack, path, headers) for label, path, headers in PAGES}
        finally:
            os.kill(pid, signal.SIGCONT)

        redis_server.stop()
        time.sleep(5.5)  # let the retry window of the hung phase pass: a clean start
        results["stopped"] = {label: measure(stack, path, headers) for label, path, headers in PAGES}

        say(f"{REQUESTS} requests per page and state; times in ms (median / max); API calls per request")
        say(f"{'page':<15}" + "".join(f"{state:>30}" for state in ("up", "stopped", "hung")))
        for label, _, _ in PAGES:
            cells = []
            for state in ("up", "stopped", "hung"):
                times, calls, statuses = results[state][label]
                codes = ",".join(str(code) for code in sorted(statuses))
                cells.append(f"{median(times):7.1f} / {max(times):6.1f}  {calls:4.2f}  [{codes}]")
            say(f"{label:<15}" + "".join(f"{cell:>30}" for cell in cells))
        warnings = stack.dashboard.log_tail(2000).count("Redis cache at")
        say(f"warnings logged by the worker about Redis: {warnings}")
    return 0


if __name__ == "__main__":
    main_guard(main)
