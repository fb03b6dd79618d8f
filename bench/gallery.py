"""The history gallery's own time reading the index, its upstream calls, and its weight.

The gallery (GET /history/?limit=N) reads the index of the team's history that the sync
process keeps (bench_stack runs it, default SYNC_* pacing): its cards, exact totals and
the tool and style titles (the sync's catalogue snapshot) come from the database, and a
page view makes no upstream call. gunicorn runs ONE sync worker here.

With ~250 seeded history items, once the sync has read them all (and the seeded running
ones have ended), for 20 and 100 items per page and 0 and 100 ms of added simulator
latency, it times RUNS gallery requests each (after WARMUPS) through gunicorn with a
logged-in session (the full HTML, keep-alive):

  server time   gunicorn's own time on the request (its access log, %(D)s: from reading
                the request to the end of the response, so without the client's share)
  client time   the wall time the client saw
  worker CPU    the gunicorn worker's CPU time per request (its threads' schedstat; both
                latencies together): what a request costs, less swayed by the machine's
                other work than the times are

and reports the median and p90 of each, and the ratio of the medians at 100 ms and at
0 ms upstream latency (about 1: the page does not wait on the upstream any more). The
latency alternates request by request, so the machine's other work weighs on both alike.
Result preview images are separate browser requests and are not part of the page time.

It counts the upstream calls one gallery view makes (the dashboard's own, from its log;
the simulator's access log also sees the sync's calls): expected 0; and its SQL queries
(in-process, support.count_queries): counts, which the machine's load does not change. It weighs the page:
the HTML plus the CSS and JS it references, uncompressed, no images, and checks that
every image in the grid is a result preview (never the full-size stock).

Goals: at most 15 ms server time at 20 items (median); the same at 100 ms of upstream
latency (ratio under 1.1); 0 upstream calls a view; page weight under 60 KB before
compression.

Run: .venv/bin/python bench/gallery.py   (prints figures; asserts nothing about them)
"""

from __future__ import annotations

import gzip
import re
import time
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests
from support import (
    bench_stack,
    count_queries,
    heading,
    main_guard,
    median,
    percentile,
    row,
    say,
    thread_cpu_seconds,
)

SEED_ITEMS = 250
PAGE_SIZES = (20, 100)
LATENCIES_MS = (0, 100)
RUNS = 30
WARMUPS = 3
# simulator/seed.py makes 2 recent pending items due 10-40 s after seeding (whatever job_seconds is).
PENDING_WAIT_SECONDS = 45.0
GOAL_SERVER_MS = 15.0  # at 20 items, median
GOAL_RATIO = 1.1  # server time at 100 ms of upstream latency / at 0 ms, medians
GOAL_PAGE_BYTES = 60 * 1000  # 60 KB (1 KB = 1,000 bytes), uncompressed
IDENTITY = {"Accept-Encoding": "identity"}


class PageParser(HTMLParser):
    """Stylesheets, scripts, and the <img> sources inside <ul class="grid">."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stylesheets: list[str] = []
        self.scripts: list[str] = []
        self.grid_images: list[str] = []
        self.grid_cards = 0
        self._ul_depth = 0  # nesting depth of <ul> while inside the grid (0: outside)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name: value or "" for name, value in attrs}
        if tag == "link" and "stylesheet" in a.get("rel", "").lower().split() and a.get("href"):
            self.stylesheets.append(a["href"])
        elif tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        elif tag == "ul":
            if self._ul_depth:
                self._ul_depth += 1
            elif "grid" in a.get("class", "").split():
                self._ul_depth = 1
        elif self._ul_depth and tag == "img":
            self.grid_images.append(a.get("src", ""))
        elif self._ul_depth and tag == "li" and "result-card" in a.get("class", "").split():
            self.grid_cards += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "ul" and self._ul_depth:
            self._ul_depth -= 1


def classify(src: str) -> str:
    path = urlsplit(src).path
    if re.fullmatch(r"/results/[^/]+/preview", path):
        return "preview"
    if path.endswith("/stock") or "/stock?" in src:
        return "stock"
    if re.fullmatch(r"/inputs/\d+/thumbnail", path):
        return "input thumbnail"
    return "other"


def ms(seconds: float) -> float:
    return seconds * 1000


def server_seconds(lines: list[str], path: str) -> list[float]:
    """gunicorn's own time on each request to `path`, from access-log lines "GET /path 200 12345" (us)."""
    found = []
    for line in lines:
        parts = line.split()
        if len(parts) == 4 and parts[1] == path and parts[3].isdigit():
            found.append(int(parts[3]) / 1e6)
    return found


def main() -> int:
    heading("gallery: the history page's time reading the index, its upstream calls, and its weight")
    problems: list[str] = []
    # dashboard.wsgi: the server time is gunicorn's own (%(D)s), which uvicorn's worker does not log.
    with bench_stack("gallery", access_log=True, web="wsgi") as stack:
        sim = stack.sim
        page = stack.session
        api = requests.Session()
        api.headers.update(sim.headers)
        pid = stack.dashboard.worker_pid()
        access_log = stack.tmp / "access.log"
        say(f"  dashboard: gunicorn master {stack.dashboard.process.pid}, ONE sync worker (pid {pid}), DEBUG=false")
        say(f"  sync process: pid {stack.sync.process.pid}, default SYNC_* pacing")

        # --- 1. Seed, let the seeded pending items finish, let the sync read it all -----
        started = time.monotonic()
        sim.seed(SEED_ITEMS)
        say(f"  seeded {SEED_ITEMS} history items in {time.monotonic() - started:.1f} s")
        seeded = time.monotonic()

        def upstream_count(**params: object) -> int:
            response = api.get(f"{sim.base_url}/user/generation-history", params={"limit": 1, **params}, timeout=10)
            response.raise_for_status()
            return int(response.json()["total_count"])

        deadline = time.monotonic() + PENDING_WAIT_SECONDS
        while (pending := upstream_count(status="pending")) and time.monotonic() < deadline:
            time.sleep(0.25)
        total = upstream_count()
        waited = time.monotonic() - seeded
        say(
            f"  upstream history: {total} items, {pending} still pending"
            + (f" after {waited:.0f} s" if pending else f" (the seeded pending ones finished; waited {waited:.0f} s)")
        )
        synced = stack.wait_for_index(settled=True)
        counts = stack.index_counts()
        say(f"  the sync had read them {synced:.1f} s later: {counts.indexed} indexed, {counts.pending} running")

        def gallery(limit: int) -> requests.Response:
            return page.get(stack.url("/history/"), params={"limit": limit}, timeout=30)

        for limit in PAGE_SIZES:
            for _ in range(3):
                response = gallery(limit)
                if response.status_code != 200:
                    say(f"  gallery ?limit={limit} answered HTTP {response.status_code} during warm-up")
                    return 1
            found = PageParser()
            found.feed(response.text)
            if "notice notice-error" in response.text or found.grid_cards != min(limit, total):
                say(
                    f"  gallery ?limit={limit}: expected {min(limit, total)} cards, found {found.grid_cards}; page problem shown: "
                    f"{'notice notice-error' in response.text}"
                )
                return 1
        say("  warm-up: 3 gallery requests per page size")

        # --- Upstream calls per gallery view ------------------------------------------
        heading("upstream calls made by ONE gallery request (the dashboard's own, from its log)")
        for limit in PAGE_SIZES:
            sim.clear_requests()
            mark = stack.mark()
            response = gallery(limit)
            calls = stack.calls_since(mark)
            mine = sum(calls["dashboard"].values())
            seen = len([e for e in sim.requests() if not e["path"].startswith("/_simulator/")])
            say(
                f"  GET /history/?limit={limit}  (HTTP {response.status_code}): {mine} upstream call(s)"
                f"{' [' + ', '.join(f'{n} x {name}' for name, n in sorted(calls['dashboard'].items())) + ']' if mine else ''};"
                f" the sync meanwhile: {sum(calls['sync'].values())} (the simulator saw {seen})"
            )
            if mine:
                problems.append(f"limit={limit}: {mine} upstream calls per gallery view (expected 0)")
        say("  expected: 0 (the page reads the index; result preview images are fetched by the browser")
        say("  afterwards, as separate requests, and are not part of the page time).")
        queries = count_queries(stack.env, [(f"/history/?limit={limit}", {}) for limit in PAGE_SIZES])
        say(
            "  SQL queries of one view (in-process, after a warm-up): "
            + ", ".join(f"{q['path']} {q['queries']} (HTTP {q['status']})" for q in queries)
        )

        # --- 2. Timing ------------------------------------------------------------------
        heading(
            f"time per request: {RUNS} requests per case after {WARMUPS} warm-ups (keep-alive), the upstream's"
            " latency alternated request by request"
        )
        results = []
        for limit in PAGE_SIZES:
            for _ in range(WARMUPS):
                gallery(limit)
            time.sleep(0.2)  # the warm-ups' access-log lines written
            offset = access_log.stat().st_size
            mark = stack.mark()
            cpu_before = thread_cpu_seconds(pid)
            order: list[tuple[int, float, int]] = []  # (latency, client seconds, bytes), in request order
            for _ in range(RUNS):
                for latency in LATENCIES_MS:
                    sim.configure(latency_ms=latency)
                    t0 = time.perf_counter()
                    response = gallery(limit)
                    order.append((latency, time.perf_counter() - t0, len(response.content)))
                    if response.status_code != 200:
                        say(f"  latency {latency} ms, limit {limit}: gallery HTTP {response.status_code}")
                        return 1
            cpu = (thread_cpu_seconds(pid) - cpu_before) / len(order)
            sim.configure(latency_ms=0)
            time.sleep(0.2)  # gunicorn writes its access-log line after the response
            with open(access_log, "rb") as f:
                f.seek(offset)
                server_times = server_seconds(f.read().decode("utf-8", "replace").splitlines(), "/history/")
            if len(server_times) != len(order):
                say(f"  {len(server_times)} access-log lines for {len(order)} requests: cannot pair them")
                return 1
            calls = sum(stack.calls_since(mark)["dashboard"].values())
            for latency in LATENCIES_MS:
                server = [t for t, o in zip(server_times, order, strict=True) if o[0] == latency]
                client = [o[1] for o in order if o[0] == latency]
                results.append(
                    {
                        "limit": limit,
                        "latency": latency,
                        "s_med": median(server),
                        "s_p90": percentile(server, 90),
                        "c_med": median(client),
                        "c_p90": percentile(client, 90),
                        "calls": calls,
                        "cpu": cpu,
                        "html_bytes": max(o[2] for o in order if o[0] == latency),
                    }
                )

        say(
            f"  {'items':>5}  {'latency':>7}  {'server time':>19}  {'client time':>19}  {'worker CPU':>10}"
            f"  {'upstream':>8}  {'HTML':>9}"
        )
        say(
            f"  {'':>5}  {'':>7}  {'median / p90':>19}  {'median / p90':>19}  {'a request':>10}  {'calls':>8}  {'bytes':>9}"
        )
        for r in results:
            say(
                f"  {r['limit']:>5}  {r['latency']:>4} ms  {ms(r['s_med']):7.1f} / {ms(r['s_p90']):6.1f} ms  "
                f"{ms(r['c_med']):7.1f} / {ms(r['c_p90']):6.1f} ms  {ms(r['cpu']):7.1f} ms  {r['calls']:>8}"
                f"  {r['html_bytes']:>9,}"
            )
        say("")
        say("  server time: gunicorn's access log (%(D)s); client time: as seen here, connection and transfer included")
        say(f"  upstream calls: the dashboard's own over the {2 * RUNS} requests of that page size (its log)")
        say(f"  goal: at most {GOAL_SERVER_MS:.0f} ms server time at 20 items (median)")
        for r in results:
            if r["limit"] == 20:
                verdict = "met" if ms(r["s_med"]) <= GOAL_SERVER_MS else "MISSED"
                say(f"    20 items, {r['latency']:>3} ms latency: {ms(r['s_med']):6.1f} ms  -> {verdict}")
        say(f"  goal: the same with 100 ms of upstream latency (ratio of the medians under {GOAL_RATIO})")
        for limit in PAGE_SIZES:
            by_latency = {r["latency"]: r for r in results if r["limit"] == limit}
            if 0 in by_latency and 100 in by_latency:
                ratio = by_latency[100]["s_med"] / by_latency[0]["s_med"]
                verdict = "met" if ratio < GOAL_RATIO else "MISSED"
                say(
                    f"    {limit:>3} items: {ms(by_latency[100]['s_med']):.1f} ms at 100 ms, {ms(by_latency[0]['s_med']):.1f} ms at 0 ms:"
                    f" ratio {ratio:.2f}  -> {verdict}"
                )

        # --- 3. Page weight -------------------------------------------------------------
        heading("page weight: GET /history/ (20 items), uncompressed, images excluded")
        response = page.get(stack.url("/history/"), params={"limit": 20}, headers=IDENTITY, timeout=30)
        if response.status_code != 200:
            say(f"  the gallery answered HTTP {response.status_code}")
            return 1
        html = response.content
        found = PageParser()
        found.feed(response.text)
        resources = [("HTML /history/?limit=20", html, response.headers.get("Content-Encoding"))]
        for kind, srcs in (("CSS", found.stylesheets), ("JS", found.scripts)):
            for src in srcs:
                url = urljoin(response.url, src)
                if urlsplit(url).netloc != urlsplit(stack.dashboard.base_url).netloc:
                    say(f"  (skipped {kind} {src}: not served by the dashboard)")
                    continue
                fetched = page.get(url, headers=IDENTITY, timeout=30)
                if fetched.status_code != 200:
                    say(f"  {kind} {src} answered HTTP {fetched.status_code}")
                    return 1
                resources.append(
                    (f"{kind:<4} {urlsplit(src).path}", fetched.content, fetched.headers.get("Content-Encoding"))
                )
        grid_start = html.find(b'<ul class="grid"')
        grid_bytes = html.find(b"</ul>", grid_start) - grid_start if grid_start >= 0 else 0
        total_bytes = sum(len(body) for _, body, _ in resources)
        total_gz = sum(len(gzip.compress(body, 6)) for _, body, _ in resources)
        width = max(len(name) for name, _, _ in resources)
        say(f"  {'resource':<{width}}  {'uncompressed':>14}  {'gzip -6 (info)':>14}")
        for name, body, encoding in resources:
            note = f"  (served with Content-Encoding: {encoding}!)" if encoding else ""
            say(f"  {name:<{width}}  {len(body):>8,} bytes  {len(gzip.compress(body, 6)):>8,} bytes{note}")
        say(f"  {'total':<{width}}  {total_bytes:>8,} bytes  {total_gz:>8,} bytes")
        say(
            f"  = {total_bytes / 1000:.1f} KB uncompressed (1 KB = 1,000 bytes); goal under {GOAL_PAGE_BYTES / 1000:.0f} KB"
            f"  -> {'met' if total_bytes < GOAL_PAGE_BYTES else 'MISSED'}"
        )
        static_bytes = total_bytes - len(html)
        say(
            f"  of which: CSS + JS {static_bytes:,} bytes; HTML {len(html):,} bytes = grid {grid_bytes:,} bytes"
            f" ({grid_bytes // max(found.grid_cards, 1):,} bytes per card x {found.grid_cards}) + rest of the page {len(html) - grid_bytes:,} bytes"
        )

        heading('images in the grid (<ul class="grid">), 20 items')
        kinds: dict[str, int] = {}
        for src in found.grid_images:
            kinds[classify(src)] = kinds.get(classify(src), 0) + 1
        row("cards in the grid", f"{found.grid_cards}", width=48)
        row("<img> in the grid", f"{len(found.grid_images)}", width=48)
        for kind in ("preview", "stock", "input thumbnail", "other"):
            label = {
                "preview": "/results/<id>/preview",
                "stock": "/results/<id>/stock",
                "input thumbnail": "/inputs/<pk>/thumbnail",
                "other": "anything else",
            }[kind]
            row(f"  {kind} ({label})", f"{kinds.get(kind, 0)}", width=48)
        cards_without = found.grid_cards - kinds.get("preview", 0) - kinds.get("stock", 0)
        say(f"  ({cards_without} card(s) without a result image: failed or running items show a placeholder)")
        others = [src for src in found.grid_images if classify(src) == "other"]
        if others:
            say(f"  other sources: {', '.join(sorted(set(others))[:5])}")
        verdict = "yes" if kinds.get("stock", 0) == 0 and kinds.get("other", 0) == 0 else "NO"
        say(f"  every result image in the grid is a /results/<id>/preview (never /stock): {verdict}")

    if problems:
        heading("noted")
        for problem in problems:
            say(f"  {problem}")
    return 0


if __name__ == "__main__":
    main_guard(main)
