"""What a 10 × 10 matrix run costs: time to all sent, upstream calls a minute, the
worker's memory, and what following it from the run page costs.

One designer sends a run of 10 garments × 10 model photos (100 jobs) through the
dashboard's own form (POST /runs/new with 20 new files), against gunicorn, the
simulator and one background worker (`manage.py run_worker`), all as in production
(DEBUG off, SQLite), with the sync process beside them (bench_stack; default SYNC_*
pacing), which alone follows the jobs' statuses. While the worker sends, the run page's
poller is asked every 2 s as htmx asks it; each tick's upstream calls are counted from
the dashboard's own log (the run page reads the Job rows and the index: expected 0), and
the sync's calls over the whole sending from its log (its status=pending listings, 100
results a page, from the simulator's access log).

  start request      time of the POST that starts the run (stores 20 photos, writes
                     100 cells, enqueues 100 tasks; the worker does the sending)
  time to all sent   from that POST's answer to the 100th job recorded as sent
  calls a minute     job creations a minute at the upstream, against RUN_SENDS_PER_MINUTE
  worker RSS         the worker's resident memory: at start, its peak, at the end
  poll cost          the dashboard's upstream calls of one run-page poll tick while the
                     worker sends, and once all 100 run and nothing changes; bytes of
                     such a poll
  sync cost          the sync's calls a second meanwhile, and its running listings

Run: .venv/bin/python bench/run_cost.py [--pace N]   (N: RUN_SENDS_PER_MINUTE, default 60)
"""

from __future__ import annotations

import argparse
import re
import subprocess
import time

from support import (
    PYTHON,
    REPO,
    RssSampler,
    bench_stack,
    heading,
    is_pending_listing,
    main_guard,
    median,
    row,
    rss_kib,
    say,
    small_jpeg,
)

ROWS = COLUMNS = 10
POLL_SECONDS = 2.0
STILL_TICKS = 5


def start_worker(env: dict[str, str], log_path) -> subprocess.Popen:
    log = open(log_path, "ab")  # noqa: SIM115 (closed with the process below)
    process = subprocess.Popen(
        [
            PYTHON,
            "manage.py",
            "run_worker",
            "--no-startup-delay",
            "--interval",
            "0.5",
            "--worker-id",
            "bench",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    process.log = log
    return process


def stop_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    process.log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pace", type=int, default=60, help="RUN_SENDS_PER_MINUTE (default 60)")
    args = parser.parse_args()
    heading(f"run_cost: a {ROWS} × {COLUMNS} run at RUN_SENDS_PER_MINUTE={args.pace}")
    garments = [small_jpeg(seed) for seed in range(ROWS)]
    models = [small_jpeg(100 + seed, size=(480, 640)) for seed in range(COLUMNS)]
    # Jobs take 10 minutes upstream: all 100 are running together once sent.
    extra = {"RUN_SENDS_PER_MINUTE": str(args.pace)}
    with bench_stack("run_cost", dashboard_extra_env=extra, sim_env={"SIMULATOR_JOB_SECONDS": "600"}) as stack:
        worker = start_worker(stack.env, stack.tmp / "worker.log")
        try:
            time.sleep(3)  # the worker's start-up (Django, its first look at the queue)
            idle_kib = rss_kib(worker.pid)
            session = stack.session
            form = session.get(stack.url("/runs/new?tool=fashion_swap"), timeout=30).text
            token = re.search(r'name="submission" value="([^"]+)"', form).group(1)
            files = [("clothes", (f"garment-{i + 1}.jpg", data, "image/jpeg")) for i, data in enumerate(garments)]
            files += [("person", (f"model-{j + 1}.jpg", data, "image/jpeg")) for j, data in enumerate(models)]
            stack.sim.clear_requests()
            with RssSampler(worker.pid, interval=0.05) as sampler:
                started = time.perf_counter()
                answer = session.post(
                    stack.url("/runs/new"),
                    data={
                        "tool": "fashion_swap",
                        "tool_group": "fashion",
                        "submission": token,
                        "style": "",
                        "csrfmiddlewaretoken": stack.csrf(),
                    },
                    files=files,
                    headers={"Referer": stack.url("/runs/new")},
                    allow_redirects=False,
                    timeout=120,
                )
                start_seconds = time.perf_counter() - started
                if answer.status_code != 303:
                    raise RuntimeError(f"the run was not started: HTTP {answer.status_code}\n{answer.text[:2000]}")
                run_url = answer.headers["Location"]
                run_id = int(re.search(r"/runs/(\d+)/", run_url).group(1))
                sent_at = time.perf_counter()

                def sent() -> int:
                    return stack.query(
                        "SELECT COUNT(*) FROM dashboard_runcell WHERE run_id = ? AND state = 'sent'", (run_id,)
                    )[0][0]

                page = session.get(stack.url(run_url), timeout=30).text
                poll = re.search(r'id="run-live"[^>]*hx-get="([^"]+)"', page)
                poll_url = poll.group(1).replace("&amp;", "&") if poll else None
                ticks: list[dict] = []
                sending_mark = stack.mark()
                while sent() < ROWS * COLUMNS:
                    if time.perf_counter() - sent_at > 60 * ROWS * COLUMNS / args.pace + 120:
                        raise RuntimeError(
                            f"only {sent()} of {ROWS * COLUMNS} sent in time; see {stack.tmp / 'worker.log'}"
                        )
                    time.sleep(POLL_SECONDS)
                    if poll_url is None:
                        continue
                    mark = stack.mark()
                    response = session.get(stack.url(poll_url), headers={"HX-Request": "true"}, timeout=30)
                    calls = stack.calls_since(mark)["dashboard"]
                    fresh = re.search(r'id="run-live"[^>]*hx-get="([^"]+)"', response.text)
                    if response.status_code == 200 and fresh:
                        poll_url = fresh.group(1).replace("&amp;", "&")
                    ticks.append({"status": response.status_code, "calls": calls.total(), "sent": sent()})
                all_sent_seconds = time.perf_counter() - sent_at
                sync_sending = stack.calls_since(sending_mark)["sync"]
                peak_kib = sampler.max_kib
            end_kib = rss_kib(worker.pid)
            log = stack.sim.requests()
            listings = [e for e in log if is_pending_listing(e)]
            listing_span = (listings[-1]["at"] - listings[0]["at"]) if len(listings) > 1 else 0
            creations = [e for e in log if e["method"] == "POST" and e["status"] == 200]
            throttled = [e for e in log if e["status"] == 429]
            span = (max(e["at"] for e in creations) - min(e["at"] for e in creations)) if len(creations) > 1 else 0

            # Every job sent and still running upstream (they take 10 minutes): the page
            # shows all there is, so a poll finds nothing new.
            still: list[dict] = []
            for _ in range(STILL_TICKS + 1):
                time.sleep(POLL_SECONDS)
                mark = stack.mark()
                response = session.get(
                    stack.url(poll_url), headers={"HX-Request": "true", "Accept-Encoding": "gzip"}, timeout=30
                )
                calls = stack.calls_since(mark)["dashboard"]
                fresh = re.search(r'id="run-live"[^>]*hx-get="([^"]+)"', response.text)
                if response.status_code == 200 and fresh:
                    poll_url = fresh.group(1).replace("&amp;", "&")  # the last change drawn
                    continue
                still.append(
                    {
                        "status": response.status_code,
                        "bytes": len(response.content),
                        "calls": sum(calls.values()),
                        "what": dict(calls),
                    }
                )
        finally:
            stop_worker(worker)

    heading("results")
    row("start request (POST /runs/new)", f"{start_seconds * 1000:.0f} ms (20 photos stored, 100 cells, 100 tasks)")
    row(
        "time to all sent",
        f"{all_sent_seconds:.1f} s for {ROWS * COLUMNS} jobs (pace {args.pace}/min: {60 * ROWS * COLUMNS / args.pace:.0f} s ideal)",
    )
    row(
        "job creations a minute",
        f"{60 * (len(creations) - 1) / span:.1f} (first to last creation: {span:.1f} s)" if span else "n/a",
    )
    row("upstream answers 429", str(len(throttled)))
    row(
        "worker RSS",
        f"{idle_kib / 1024:.1f} MB idle, {peak_kib / 1024:.1f} MB peak, {end_kib / 1024:.1f} MB at the end",
    )
    running = [t for t in ticks if t["status"] in (200, 204)]
    if running:
        say()
        say(f"  run-page poll ticks while sending ({len(running)} ticks, one every {POLL_SECONDS:.0f} s):")
        counts = sorted({t["calls"] for t in running})
        row(
            "  upstream calls per tick",
            f"median {median([t['calls'] for t in running]):.0f}, max {max(t['calls'] for t in running)} (values seen: {counts})",
        )
        row(
            "  answers",
            ", ".join(f"{status}: {sum(1 for t in running if t['status'] == status)}" for status in (200, 204)),
        )
    if still:
        say()
        say(f"  run-page polls once all {ROWS * COLUMNS} are sent and running (nothing new to show):")
        for tick in still:
            row(
                "  poll",
                f"HTTP {tick['status']}, {tick['bytes']} B body, {tick['calls']} upstream call(s) {tick['what'] or ''}",
            )
    say()
    row(
        "the sync while the worker sent",
        f"{sync_sending.total()} calls in {all_sent_seconds:.0f} s = {sync_sending.total() / all_sent_seconds:.2f}/s"
        f" [{', '.join(f'{n} x {name}' for name, n in sync_sending.most_common())}]",
    )
    if listing_span:
        pages = sum(1 for e in listings if "page=1&" not in f"{e['query']}&")
        row(
            "  its running listings",
            f"{len(listings)} ({pages} of them pages after the first) over {listing_span:.0f} s"
            f" = {(len(listings) - 1) / listing_span:.2f}/s, the 100 jobs in one page of 100",
        )
    say("  goal: 0 upstream calls per run-page tick whatever N × M (the page reads the Job rows and the index;")
    say("  the sync alone follows the jobs: one `status=pending` listing per SYNC_RUNNING_SECONDS, whatever N × M);")
    say("  no body when nothing changed")
    return 0


if __name__ == "__main__":
    main_guard(main)
