"""How late the index learns that a job ended, and what the sync's pace costs the upstream.

The sync process is the deployment's only status poller (dashboard/index/sync.py): it
lists the running results every SYNC_RUNNING_SECONDS (1 s), and every
SYNC_RUNNING_FAST_SECONDS (0.25 s) inside the window around each one's expected end,
learnt from the index's record of how long each tool takes (dashboard/index/pace.py).

Against the simulator with SIMULATOR_JOB_SECONDS=4 (its worker ends a job within 0.2 s of
that), for each pace:

  paced     the defaults: windows around the expected ends;
  fixed     SYNC_RUNNING_FAST_CALLS_PER_MINUTE=0: the one-second cadence alone;

a designer sends WARM_UP jobs through the dashboard (POST /, so the index knows them
running at once; their ends teach the estimate), then MEASURED jobs one after another,
each after a random pause. For each, the delay from the simulator's end (its own record,
to the microsecond: the API's `finished_at` is whole seconds) to the moment the index's
row says it ended (the bench reads the database every 5 ms): median, 90th percentile and max;
and the sync's upstream calls a minute meanwhile (its own log), of them running
listings (the simulator's access log). Printed with the load average.

Run: .venv/bin/python bench/sync_latency.py   (prints figures; asserts nothing about them)
"""

from __future__ import annotations

import os
import random
import sqlite3
import sys
import time

from support import bench_stack, heading, is_pending_listing, main_guard, median, percentile, say, small_jpeg

JOB_SECONDS = 4.0
WARM_UP = 5
MEASURED = 10
READ_EVERY = 0.005
PACES = {
    "paced": {},
    "fixed": {"SYNC_RUNNING_FAST_CALLS_PER_MINUTE": "0"},
}


def finished_upstream(stack, item_id: str) -> float:  # noqa: ANN001
    """When the simulator ended the job, to the microsecond (its API says whole seconds)."""
    with sqlite3.connect(f"file:{stack.sim.data_dir / 'simulator.sqlite3'}?mode=ro", uri=True, timeout=10) as db:
        (finished,) = db.execute("SELECT finished_at FROM history WHERE id = ?", (item_id,)).fetchone()
    return float(finished)


def measure(name: str, sync_env: dict[str, str], images: list[bytes]) -> dict:
    with bench_stack(
        f"sync_latency_{name}", sim_env={"SIMULATOR_JOB_SECONDS": str(JOB_SECONDS)}, sync_extra_env=sync_env
    ) as stack:
        stack.wait_for_index()
        rng = random.Random(17)

        def one_job(number: int) -> float:
            """Send a job; wait until the index says it ended; seconds after its end upstream."""
            response = stack.create_job(
                {
                    "clothes": ("garment.jpg", images[number % len(images)], "image/jpeg"),
                    "person": ("model.jpg", images[(number + 3) % len(images)], "image/jpeg"),
                }
            )
            if response.status_code != 303:
                raise RuntimeError(f"job {number} was not sent: HTTP {response.status_code}")
            (item_id,) = stack.recent_job_ids(user(stack), 1)
            deadline = time.monotonic() + JOB_SECONDS + 30
            while time.monotonic() < deadline:
                rows = stack.query("SELECT status FROM dashboard_indexedresult WHERE history_item_id = ?", (item_id,))
                if rows and rows[0][0] != "pending":
                    return time.time() - finished_upstream(stack, item_id)
                time.sleep(READ_EVERY)
            raise RuntimeError(f"job {item_id} not seen ending within {JOB_SECONDS + 30:.0f} s")

        for number in range(WARM_UP):
            one_job(number)
        stack.sim.clear_requests()
        mark = stack.mark()
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        delays = []
        for number in range(WARM_UP, WARM_UP + MEASURED):
            time.sleep(rng.uniform(0, 1))
            delays.append(one_job(number))
        minutes = (time.monotonic() - started) / 60
        calls = stack.calls_since(mark)["sync"]
        listings = sum(1 for entry in stack.sim.requests() if is_pending_listing(entry))
        return {
            "delays": delays,
            "minutes": minutes,
            "calls": sum(calls.values()) / minutes,
            "listings": listings / minutes,
            "load": (load_before, os.getloadavg()[0]),
        }


def user(stack) -> str:  # noqa: ANN001
    return next(iter(stack.sessions))


def main() -> int:
    heading(f"sync_latency: from a job's end upstream to the index's record ({JOB_SECONDS:g} s jobs)")
    images = [small_jpeg(seed) for seed in range(8)]
    chosen = sys.argv[1:] or list(PACES)  # e.g. `bench/sync_latency.py paced`
    for name, sync_env in PACES.items():
        if name not in chosen:
            continue
        found = measure(name, sync_env, images)
        delays = found["delays"]
        say(
            f"{name:>6}: delay median {median(delays):.3f} s, p90 {percentile(delays, 90):.3f} s,"
            f" max {max(delays):.3f} s (of {len(delays)}: {', '.join(f'{d:.2f}' for d in delays)})"
        )
        say(
            f"        the sync: {found['calls']:.1f} upstream calls a minute, of them"
            f" {found['listings']:.1f} running listings ({found['minutes']:.2f} min measured);"
            f" load average {found['load'][0]:.2f} -> {found['load'][1]:.2f}"
        )
    return 0


if __name__ == "__main__":
    main_guard(main)
