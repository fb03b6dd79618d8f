"""Throughput and worker memory of a streamed ZIP download.

A gallery selection of 60 results (noise PNGs of 1.2 to 2.5 MB that do not compress,
~105 MiB in all) is downloaded from the dashboard (gunicorn, one sync worker) against the
simulator over real sockets: POST /history/download, read in 64 KiB pieces as a browser
would. The results' records come from the index (the sync process, which bench_stack runs,
has read the seeded history first), so the upstream is asked for the images only: the
dashboard's upstream calls per download are counted from its log (expected: one image
read per result, no record read). Printed per run: time to the first byte, total time,
MB/s, and the worker's peak
resident memory above idle (VmHWM after resetting it through /proc/<pid>/clear_refs,
plus a 5 ms VmRSS sampler as a cross-check). Each image is copied to a temporary file
and streamed from there, so the goal is a peak that does not grow with the archive:
under 20 MB above idle for ~105 MiB of ZIP.

Run: .venv/bin/python bench/zip_download.py   (prints figures; asserts nothing about them)
"""

from __future__ import annotations

import io
import time
import zipfile

from support import (
    MIB,
    RssSampler,
    bench_stack,
    heading,
    hwm_kib,
    main_guard,
    reset_peak_rss,
    row,
    rss_kib,
    say,
)

from tests.support.corpus import noisy_png

RESULTS = 60
RUNS = 3
GOAL_MB = 20


def seed_big_results(stack) -> list[str]:
    stack.sim.seed(RESULTS + 20)
    listing = stack.sim._http.get(
        f"{stack.sim.base_url}/user/generation-history",
        params={"status": "complete", "limit": 100},
        headers=stack.sim.headers,
        timeout=10,
    ).json()
    ids = [item["id"] for item in listing["items"]][:RESULTS]
    for number, item_id in enumerate(ids):
        side = 700 + 5 * number
        (stack.sim.data_dir / "images" / "generation_result" / f"{item_id}.png").write_bytes(noisy_png((side, side)))
    return ids


def download(stack, ids: list[str]) -> dict:
    mark = stack.mark()
    started = time.perf_counter()
    response = stack.session.post(
        stack.url("/history/download"),
        data={"ids": ids, "csrfmiddlewaretoken": stack.csrf()},
        headers={"Referer": stack.url("/history/")},
        stream=True,
        timeout=300,
    )
    first_byte = None
    body = io.BytesIO()
    for piece in response.iter_content(64 * 1024):
        if first_byte is None:
            first_byte = time.perf_counter() - started
        body.write(piece)
    duration = time.perf_counter() - started
    members = []
    if response.headers.get("Content-Type") == "application/zip":
        with zipfile.ZipFile(body) as zipped:
            assert zipped.testzip() is None
            members = zipped.namelist()
    return {
        "calls": stack.calls_since(mark)["dashboard"],
        "status": response.status_code,
        "bytes": body.tell(),
        "first_byte": first_byte or duration,
        "duration": duration,
        "members": members,
        "disposition": response.headers.get("Content-Disposition", ""),
    }


def main() -> int:
    heading(f"zip_download: one worker streams a ZIP of {RESULTS} results")
    with bench_stack("zip_download") as stack:
        started = time.monotonic()
        ids = seed_big_results(stack)
        images = sum((stack.sim.data_dir / "images" / "generation_result" / f"{i}.png").stat().st_size for i in ids)
        say(f"  seeded {len(ids)} results in {time.monotonic() - started:.1f} s: {images / MIB:.1f} MiB of PNG in all")
        say(f"  the sync had read the seeded history {stack.wait_for_index():.1f} s later")
        pid = stack.dashboard.worker_pid()
        warm = download(stack, ids[:2])
        if warm["status"] != 200:
            say(f"  warm-up download failed: HTTP {warm['status']}")
            return 1
        results = []
        for run in range(1, RUNS + 1):
            time.sleep(0.5)
            idle = rss_kib(pid)
            reset_ok = reset_peak_rss(pid)
            with RssSampler(pid) as sampler:
                figures = download(stack, ids)
            peak = hwm_kib(pid) if reset_ok else sampler.max_kib
            results.append(
                {**figures, "run": run, "idle": idle, "peak": peak, "sampled": sampler.max_kib, "reset": reset_ok}
            )

        for r in results:
            heading(f"run {r['run']} of {RUNS}")
            row("status, archive", f"{r['status']}  {r['disposition']}")
            row("archive size", f"{r['bytes'] / MIB:8.1f} MiB   ({len(r['members'])} members, manifest included)")
            row("time to first byte", f"{r['first_byte']:8.2f} s")
            row("total time", f"{r['duration']:8.2f} s")
            row("throughput", f"{r['bytes'] / MIB / r['duration']:8.1f} MiB/s")
            row("worker idle RSS", f"{r['idle'] / 1024:8.1f} MB")
            method = "VmHWM after clear_refs" if r["reset"] else "max of VmRSS samples"
            row("worker peak RSS", f"{r['peak'] / 1024:8.1f} MB   ({method})")
            row("  cross-check: sampled VmRSS max", f"{r['sampled'] / 1024:8.1f} MB")
            row("peak above idle", f"{(r['peak'] - r['idle']) / 1024:8.1f} MB")
            row(
                "the dashboard's upstream calls",
                ", ".join(f"{n} x {name}" for name, n in sorted(r["calls"].items())) or "none",
            )

        above = max(r["peak"] - r["idle"] for r in results) / 1024
        heading("summary")
        say(f"  {'run':>4} {'MiB':>7} {'1st byte s':>11} {'total s':>8} {'MiB/s':>7} {'above idle MB':>14}")
        for r in results:
            say(
                f"  {r['run']:>4} {r['bytes'] / MIB:>7.1f} {r['first_byte']:>11.2f} {r['duration']:>8.2f}"
                f" {r['bytes'] / MIB / r['duration']:>7.1f} {(r['peak'] - r['idle']) / 1024:>14.1f}"
            )
        verdict = "within goal" if above < GOAL_MB else "ABOVE GOAL"
        say(f"\n  goal: under {GOAL_MB} MB above idle for the whole archive  ->  max {above:.1f} MB: {verdict}")
        if any(r["status"] != 200 or len(r["members"]) != RESULTS + 1 for r in results):
            say("  some downloads did not hold every result: the figures above do not measure a full archive")
            return 1
    return 0


if __name__ == "__main__":
    main_guard(main)
