"""Upstream calls per poll of the recent-jobs tray, with 1, 10 and 50 pending jobs.

Each poll tick (GET /jobs/tray with HX-Request, as htmx sends it every 2-5 s) should cost
the same small constant however many jobs are running: one `status=pending` listing,
plus one detail read for each job that just left it. For each N a fresh designer sends
N jobs through the dashboard (POST /, fashion_swap, small images); the simulator's
access log then counts the API calls of single ticks:

  steady tick    all N jobs still running (5 ticks; their median time is reported)
  finished tick  the tick right after the designer's k = min(3, N) newest jobs finished
  next tick      one tick later: finished jobs are remembered, so back to the steady cost

The tray shows (and so polls) only the designer's 12 most recent jobs; with N = 50 the
other 38 are not polled by the tray at all, by design (the history page covers them).

It also weighs one poll that finds nothing new, for the tray and for the history
gallery's poller, each asked exactly as the page's own poller asks (its hx-get address,
HX-Request, Accept-Encoding: gzip): status, body bytes on the wire, body bytes once
decoded, and the response's status line and headers. It does so after the "next tick",
when the N - k long jobs still run; beside it, the full tray fragment such a poll would
otherwise bring. With N = 1 nothing runs then, so nothing polls.

Run: .venv/bin/python bench/poll_cost.py   (prints figures; asserts nothing about them)
"""

from __future__ import annotations

import gzip
import re
import time

import requests
from support import bench_stack, count_calls, heading, main_guard, median, say, small_jpeg

SIZES = (1, 10, 50)
FINISHING = 3
STEADY_TICKS = 5
LONG_SECONDS = 600.0
# The finishing jobs must outlive the steady ticks measured right after they are sent.
SHORT_SECONDS = 8.0
TRAY_SIZE = 12  # dashboard/generate/views.py: TRAY_SIZE


def designer(n: int) -> str:
    return f"designer-{n}"


def tray_facts(html: str) -> tuple[int, int, int]:
    """(cards shown, of which running per data-running, of which complete)."""
    cards = len(re.findall(r'class="job-card ', html))
    running = re.search(r'data-running="(\d+)"', html)
    complete = len(re.findall(r'class="job-card job-complete"', html))
    return cards, int(running.group(1)) if running else -1, complete


def poller_url(html: str, element_id: str) -> str | None:
    """The address the element polls (its hx-get), or None when it does not poll."""
    tag = re.search(rf'<[a-z]+ [^>]*id="{element_id}"[^>]*>', html)
    url = re.search(r'hx-get="([^"]+)"', tag.group(0)) if tag else None
    return url.group(1).replace("&amp;", "&") if url else None


def weigh(session: requests.Session, url: str) -> dict:
    """One htmx poll as a browser sends it: status and bytes (body on the wire, decoded, headers)."""
    response = session.get(url, headers={"HX-Request": "true", "Accept-Encoding": "gzip"}, stream=True, timeout=30)
    wire = response.raw.read(decode_content=False)
    decoded = gzip.decompress(wire) if response.headers.get("Content-Encoding") == "gzip" else wire
    head = len(f"HTTP/1.1 {response.status_code} {response.reason}\r\n") + 2
    head += sum(len(name) + len(value) + 4 for name, value in response.headers.items())
    return {"status": response.status_code, "wire": len(wire), "decoded": len(decoded), "headers": head}


def describe(w: dict | None) -> str:
    if w is None:
        return "(not polling)"
    return f"HTTP {w['status']}, body {w['wire']:>6,} B on the wire ({w['decoded']:>6,} B decoded) + {w['headers']} B status line and headers"


def main() -> int:
    heading("poll_cost: upstream API calls per tray poll tick")
    images = [small_jpeg(seed) for seed in range(8)]
    failures: list[str] = []
    rows = []
    with bench_stack("poll_cost", usernames=[designer(n) for n in SIZES]) as stack:
        sim = stack.sim
        api = requests.Session()
        api.headers.update(sim.headers)

        def send(session: requests.Session, count: int, offset: int) -> float:
            started = time.perf_counter()
            for i in range(count):
                j = offset + i
                response = stack.create_job(
                    {
                        "clothes": ("garment.jpg", images[j % len(images)], "image/jpeg"),
                        "person": ("model.jpg", images[(j + 3) % len(images)], "image/jpeg"),
                    },
                    session=session,
                )
                if response.status_code != 303:
                    raise RuntimeError(f"job {j} was not sent: HTTP {response.status_code}\n{response.text[:1500]}")
            return time.perf_counter() - started

        def upstream_pending() -> int:
            body = api.get(
                f"{sim.base_url}/user/generation-history", params={"status": "pending", "limit": 1}, timeout=10
            ).json()
            return int(body["total_count"])

        def tick(session: requests.Session) -> dict:
            sim.clear_requests()
            started = time.perf_counter()
            response = stack.tray(session)
            elapsed = time.perf_counter() - started
            calls = count_calls(sim.requests())
            if response.status_code != 200:
                failures.append(f"tray answered HTTP {response.status_code}")
            cards, running, complete = tray_facts(response.text)
            problem = re.search(r'<p class="notice notice-warning" role="status">(.*?)</p>', response.text)
            if problem:
                failures.append(f"tray problem: {problem.group(1)}")
            return {
                "calls": calls,
                "total": sum(calls.values()),
                "seconds": elapsed,
                "cards": cards,
                "running": running,
                "complete": complete,
            }

        for n in SIZES:
            session = stack.sessions[designer(n)]
            k = min(FINISHING, n)
            sim.configure(job_seconds=LONG_SECONDS)
            send_seconds = send(session, n - k, 0)
            sim.configure(job_seconds=SHORT_SECONDS)
            short_sent = time.monotonic()
            send_seconds += send(session, k, n - k)
            sim.configure(job_seconds=LONG_SECONDS)
            finishing_ids = stack.recent_job_ids(designer(n), k)
            pending_upstream = upstream_pending()

            steady = [tick(session) for _ in range(STEADY_TICKS)]
            steady_window = time.monotonic() - short_sent
            if steady_window >= SHORT_SECONDS:
                failures.append(
                    f"N={n}: steady ticks ran {steady_window:.1f} s after the short jobs were sent (>= {SHORT_SECONDS} s)"
                )

            deadline = time.monotonic() + SHORT_SECONDS + 30
            while time.monotonic() < deadline:
                statuses = [
                    api.get(f"{sim.base_url}/user/generation-history/{item_id}", timeout=10).json()["status"]
                    for item_id in finishing_ids
                ]
                if all(status != "pending" for status in statuses):
                    break
                time.sleep(0.25)
            else:
                failures.append(f"N={n}: the {k} short jobs did not finish upstream in time")
            finished = tick(session)
            after = tick(session)

            # Polls that find nothing new, asked as the page's pollers ask.
            tray_html = stack.tray(session).text
            tray_url = poller_url(tray_html, "job-tray")
            full_tray = weigh(session, stack.url("/jobs/tray"))  # no "seen": the whole fragment
            tray_still = weigh(session, stack.url(tray_url)) if tray_url else None
            gallery_url = poller_url(session.get(stack.url("/history/"), timeout=30).text, "gallery-poller")
            gallery_still = weigh(session, stack.url(gallery_url)) if gallery_url else None
            rows.append(
                {
                    "n": n,
                    "k": k,
                    "send_seconds": send_seconds,
                    "pending_upstream": pending_upstream,
                    "steady": steady,
                    "finished": finished,
                    "after": after,
                    "full_tray": full_tray,
                    "tray_still": tray_still,
                    "gallery_still": gallery_still,
                    "tray_cards": tray_facts(tray_html)[0],
                }
            )

        heading("per N: what each tick called upstream (method path: count)")
        for r in rows:
            s0 = r["steady"][0]
            totals = sorted({t["total"] for t in r["steady"]})
            say(
                f"  N = {r['n']:>2} pending  (sent in {r['send_seconds']:.1f} s; pending upstream, all designers: {r['pending_upstream']};"
                f" tray cards: {s0['cards']}, running: {s0['running']})"
            )
            for label, t, note in (
                ("steady tick", s0, f"all {STEADY_TICKS} steady ticks: {', '.join(map(str, totals))} call(s)"),
                (
                    "finished tick",
                    r["finished"],
                    f"{r['k']} job(s) just finished; tray shows {r['finished']['complete']} complete, {r['finished']['running']} running",
                ),
                ("next tick", r["after"], f"tray shows {r['after']['running']} running"),
            ):
                calls = ", ".join(f"{name}: {count}" for name, count in sorted(t["calls"].items())) or "none"
                say(f"    {label:<14} {t['total']:>2} call(s)  [{calls}]")
                say(f"    {'':<14} ({note})")

        heading("bytes of one poll that finds nothing new (after the next tick; N - k jobs still running)")
        for r in rows:
            say(f"  N = {r['n']:>2}  ({r['tray_cards']} tray cards)")
            say(f"    full tray fragment  {describe(r['full_tray'])}")
            say(f"    tray poll           {describe(r['tray_still'])}")
            say(f"    gallery poll        {describe(r['gallery_still'])}")
        say("  goal: a poll that finds nothing new costs under 1 KB (body and headers together).")

        heading("summary")
        say(
            f"  {'pending N':>9}  {'polled':>6}  {'steady tick':>11}  {'k finished':>10}  {'finished tick':>13}  {'next tick':>9}  {'steady median':>13}"
        )
        for r in rows:
            median_ms = median([t["seconds"] for t in r["steady"]]) * 1000
            steady_calls = max(t["total"] for t in r["steady"])
            say(
                f"  {r['n']:>9}  {min(r['n'], TRAY_SIZE):>6}  {steady_calls:>6} calls  {r['k']:>10}"
                f"  {r['finished']['total']:>8} calls  {r['after']['total']:>4} calls  {median_ms:>10.1f} ms"
            )
        say("")
        say("  polled = pending jobs the tray covers: it shows the designer's 12 most recent jobs,")
        say("           so with N = 50 the 38 older running jobs are not polled by the tray (by design).")
        say("  goal: the same small constant for every N: 1 listing call (GET /user/generation-history")
        say("        ?status=pending&limit=100) per tick, plus 1 detail read (GET /user/generation-history/{id})")
        say("        per job that just finished; 0 calls once nothing in the tray is running.")
        say(
            f"  steady median: median wall time of {STEADY_TICKS} steady ticks (client-side, includes rendering the tray)"
        )
        listing = [e for e in sim.requests() if e["path"] == "/user/generation-history"]
        if listing:
            say(f"  listing query seen: ?{listing[-1]['query']}")
    if failures:
        heading("problems")
        for failure in failures:
            say(f"  {failure}")
        return 1
    return 0


if __name__ == "__main__":
    main_guard(main)
