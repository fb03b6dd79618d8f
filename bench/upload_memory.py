"""Peak memory of the dashboard while it forwards two 20 MB photos.

The single gunicorn worker's resident memory is measured around one POST / that carries
two ~20 MB JPEG photos (fashion_swap: garment + model photo): idle RSS before, then the
peak during the request (VmHWM after resetting it through /proc/<pid>/clear_refs, plus a
5 ms VmRSS sampler as a cross-check), and the difference. Uploads are streamed to
temporary files, checked without a full decode and forwarded with a streaming multipart
encoder, so the goal is a bounded overhead: under 60 MB above idle.

Run: .venv/bin/python bench/upload_memory.py   (prints figures; asserts nothing about them)
"""

from __future__ import annotations

import time

from support import (
    MIB,
    RssSampler,
    bench_stack,
    heading,
    hwm_kib,
    large_photos,
    main_guard,
    reset_peak_rss,
    row,
    rss_kib,
    say,
    small_jpeg,
)

RUNS = 3
GOAL_MB = 60


def mb(kib: int) -> float:
    return kib / 1024


def main() -> int:
    heading("upload_memory: dashboard worker memory while forwarding two 20 MB photos")
    with bench_stack("upload_memory") as stack:
        # Jobs stay pending: the simulator does not render results from the big photos
        # while later runs are measured (this is a 2-core machine).
        stack.sim.configure(job_seconds=600)

        started = time.monotonic()
        photos = large_photos(stack.tmp, 2)
        say(f"  made {len(photos)} photos in {time.monotonic() - started:.1f} s (6000 x 4000 px JPEG, no EXIF):")
        for photo in photos:
            size = photo.stat().st_size
            say(f"    {photo.name}  {size:>10,} bytes = {size / MIB:.2f} MiB (limit 20 MiB = {20 * MIB:,} bytes)")

        pid = stack.dashboard.worker_pid()
        say(f"  dashboard: gunicorn master {stack.dashboard.process.pid}, single worker pid {pid}")
        row("worker RSS after start-up", f"{mb(rss_kib(pid)):8.1f} MB")

        warm = stack.create_job(
            {
                "clothes": ("garment.jpg", small_jpeg(1), "image/jpeg"),
                "person": ("model.jpg", small_jpeg(2), "image/jpeg"),
            }
        )
        if warm.status_code != 303:
            say(f"  warm-up job failed: HTTP {warm.status_code}\n{warm.text[:2000]}")
            return 1
        time.sleep(0.5)
        warm_idle = rss_kib(pid)
        row("worker RSS after a small warm-up job", f"{mb(warm_idle):8.1f} MB   (warm idle)")

        results = []
        for run in range(1, RUNS + 1):
            if stack.dashboard.worker_pids() != [pid]:
                say(f"  the worker was replaced (now {stack.dashboard.worker_pids()}): it crashed or timed out")
                return 1
            time.sleep(0.5)
            idle = rss_kib(pid)
            reset_ok = reset_peak_rss(pid)
            jobs_before = stack.job_count()
            stack.sim.clear_requests()
            with open(photos[0], "rb") as clothes, open(photos[1], "rb") as person, RssSampler(pid) as sampler:
                t0 = time.perf_counter()
                response = stack.create_job(
                    {"clothes": ("garment.jpg", clothes, "image/jpeg"), "person": ("model.jpg", person, "image/jpeg")}
                )
                duration = time.perf_counter() - t0
            peak_hwm = hwm_kib(pid) if reset_ok else None
            peak = peak_hwm if peak_hwm is not None else sampler.max_kib
            created = response.status_code == 303 and stack.job_count() == jobs_before + 1
            upstream = [e for e in stack.sim.requests() if e["method"] == "POST"]
            results.append(
                {
                    "run": run,
                    "idle": idle,
                    "peak": peak,
                    "sampled": sampler.max_kib,
                    "samples": sampler.samples,
                    "method": "VmHWM after clear_refs" if reset_ok else f"max of {sampler.samples} VmRSS samples",
                    "duration": duration,
                    "status": response.status_code,
                    "created": created,
                    "upstream": ", ".join(f"{e['method']} {e['path']} -> {e['status']}" for e in upstream) or "none",
                    "body": "" if response.status_code == 303 else response.text,
                }
            )

        for r in results:
            heading(f"run {r['run']} of {RUNS}")
            row("idle RSS before the request", f"{mb(r['idle']):8.1f} MB")
            row("peak RSS during the request", f"{mb(r['peak']):8.1f} MB   ({r['method']})")
            row(
                "  cross-check: sampled VmRSS max", f"{mb(r['sampled']):8.1f} MB   ({r['samples']} samples, 5 ms apart)"
            )
            row("peak above idle", f"{mb(r['peak'] - r['idle']):8.1f} MB")
            row("request duration", f"{r['duration']:8.2f} s")
            row(
                "status code",
                f"{r['status']:>8}   ({'303 = job sent, redirect to /' if r['status'] == 303 else 'NOT sent'})",
            )
            row("job created", f"{'yes' if r['created'] else 'NO':>8}   (upstream: {r['upstream']})")
            if r["body"]:
                say(f"  response body (first 1500 chars):\n{r['body'][:1500]}")

        worst = max(results, key=lambda r: r["peak"] - r["idle"])
        above = mb(worst["peak"] - worst["idle"])
        heading("summary")
        say(
            f"  {'run':>4} {'idle MB':>9} {'peak MB':>9} {'above MB':>9} {'vs warm MB':>11} {'time s':>8} {'status':>7} {'job':>5}"
        )
        for r in results:
            say(
                f"  {r['run']:>4} {mb(r['idle']):>9.1f} {mb(r['peak']):>9.1f} {mb(r['peak'] - r['idle']):>9.1f}"
                f" {mb(r['peak'] - warm_idle):>11.1f} {r['duration']:>8.2f} {r['status']:>7} {'yes' if r['created'] else 'NO':>5}"
            )
        top_peak = max(r["peak"] for r in results)
        say(
            f"  {'max':>4} {'':>9} {mb(top_peak):>9.1f} {above:>9.1f} {mb(top_peak - warm_idle):>11.1f}"
            f" {max(r['duration'] for r in results):>8.2f}"
        )
        say("  (above = peak - that run's idle RSS; vs warm = peak - RSS after the small warm-up job,")
        say("   which also counts memory the allocator kept from earlier runs; 1 MB = 1024 x 1024 bytes)")
        verdict = "within goal" if above < GOAL_MB else "ABOVE GOAL"
        say(f"\n  goal: under {GOAL_MB} MB above idle  ->  max {above:.1f} MB above idle: {verdict}")
        if not all(r["created"] for r in results):
            say("  some uploads did not create a job: the figures above do not measure a full forward")
            return 1
    return 0


if __name__ == "__main__":
    main_guard(main)
