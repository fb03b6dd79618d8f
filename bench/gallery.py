"""What the history gallery adds on top of the upstream listing, and what the page weighs.

The gallery (GET /history/?limit=N) makes one upstream listing call,
GET /user/generation-history?page=1&limit=N, plus catalogue reads (tools and each tool's
generation types) that the dashboard caches for minutes in its per-process memory cache
(gunicorn runs ONE sync worker here, so every request shares that cache).

With ~250 seeded history items and warm caches, for 20 and 100 items per page and
0 and 100 ms of added simulator latency, it times N alternating pairs of

  (a) the gallery page through gunicorn with a logged-in session (the full HTML), and
  (b) the same upstream listing call made directly with the bearer key,

both over keep-alive connections (requests.Session), and reports the median and p90 of
each, the added time (median of the pairwise a - b) and the added share (added / median b).
Result preview images are separate browser requests and are not part of the page time.

It also counts the upstream calls one gallery page makes (from the simulator's access log)
and weighs the page: the HTML plus the CSS and JS it references, uncompressed, no images,
and checks that every image in the grid is a result preview (never the full-size stock).

Goals: at most 15 ms added at 20 items (median); under 10 % added when the upstream takes
100 ms; page weight under 60 KB before compression.

Run: .venv/bin/python bench/gallery.py   (prints figures; asserts nothing about them)
"""

from __future__ import annotations

import gzip
import re
import time
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests
from support import bench_stack, count_calls, heading, main_guard, median, percentile, row, say

SEED_ITEMS = 250
PAGE_SIZES = (20, 100)
LATENCIES_MS = (0, 100)
RUNS = 30
WARMUPS = 3
# simulator/seed.py makes 2 recent pending items due 10-40 s after seeding (whatever job_seconds is).
PENDING_WAIT_SECONDS = 45.0
GOAL_ADDED_MS = 15.0  # at 20 items, median
GOAL_SHARE = 10.0  # % added when the upstream takes 100 ms
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


def main() -> int:
    heading("gallery: time the history page adds over its upstream listing, and its weight")
    problems: list[str] = []
    with bench_stack("gallery") as stack:
        sim = stack.sim
        page = stack.session
        api = requests.Session()
        api.headers.update(sim.headers)
        pid = stack.dashboard.worker_pid()
        say(f"  dashboard: gunicorn master {stack.dashboard.process.pid}, ONE sync worker (pid {pid}), DEBUG=false")

        # --- 1. Seed, let the seeded pending items finish, warm the caches ------------
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
        if pending:
            say("  (pending items only add a poller <div> to the page; the page itself makes no extra call for them)")

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
        say("  warm-up: 3 gallery requests per page size (tools and generation types now cached)")

        # --- Upstream calls per gallery page, caches warm -------------------------------
        heading("upstream calls made by ONE gallery request (caches warm, from the simulator's access log)")
        listing_query: dict[int, str] = {}
        for limit in PAGE_SIZES:
            sim.clear_requests()
            response = gallery(limit)
            entries = [e for e in sim.requests() if not e["path"].startswith("/_simulator/")]
            calls = count_calls(entries)
            listing = [e for e in entries if e["path"] == "/user/generation-history"]
            if listing:
                listing_query[limit] = listing[0]["query"]
            say(f"  GET /history/?limit={limit}  (HTTP {response.status_code}): {sum(calls.values())} upstream call(s)")
            for name, count in sorted(calls.items()):
                query = f"?{listing[0]['query']}" if listing and name == "GET /user/generation-history" else ""
                say(f"    {count} x {name}{query}")
            if sum(calls.values()) != 1 or len(listing) != 1:
                problems.append(
                    f"limit={limit}: {sum(calls.values())} upstream calls per gallery page (expected 1 listing call)"
                )
        say("  expected: 1 listing call (GET /user/generation-history?page=1&limit=N); result preview images are")
        say("  fetched by the browser afterwards, as separate requests, and are not part of the page time.")

        # --- 2. Timing ------------------------------------------------------------------
        heading(
            f"time per request: {RUNS} alternating pairs after {WARMUPS} warm-up pairs (keep-alive, client wall time)"
        )
        results = []
        for latency in LATENCIES_MS:
            sim.configure(latency_ms=latency)
            for limit in PAGE_SIZES:
                query = listing_query.get(limit, f"page=1&limit={limit}")
                upstream_url = f"{sim.base_url}/user/generation-history?{query}"
                a_times: list[float] = []
                b_times: list[float] = []
                sizes = set()
                for i in range(WARMUPS + RUNS):
                    t0 = time.perf_counter()
                    ra = gallery(limit)
                    t1 = time.perf_counter()
                    rb = api.get(upstream_url, timeout=30)
                    t2 = time.perf_counter()
                    if ra.status_code != 200 or rb.status_code != 200:
                        say(
                            f"  latency {latency} ms, limit {limit}: gallery HTTP {ra.status_code}, upstream HTTP {rb.status_code}"
                        )
                        return 1
                    if i >= WARMUPS:
                        a_times.append(t1 - t0)
                        b_times.append(t2 - t1)
                        sizes.add((len(ra.content), len(rb.content)))
                diffs = [a - b for a, b in zip(a_times, b_times, strict=True)]
                added = median(diffs)
                share = added / median(b_times) * 100
                results.append(
                    {
                        "limit": limit,
                        "latency": latency,
                        "a_med": median(a_times),
                        "a_p90": percentile(a_times, 90),
                        "b_med": median(b_times),
                        "b_p90": percentile(b_times, 90),
                        "added": added,
                        "share": share,
                        "html_bytes": max(s[0] for s in sizes),
                        "json_bytes": max(s[1] for s in sizes),
                    }
                )
        sim.configure(latency_ms=0)

        say(
            f"  {'items':>5}  {'latency':>7}  {'gallery (a)':>19}  {'upstream (b)':>19}  {'added a-b':>9}  {'share':>7}  {'HTML':>9}  {'JSON':>9}"
        )
        say(
            f"  {'':>5}  {'':>7}  {'median / p90':>19}  {'median / p90':>19}  {'median':>9}  {'(a-b)/b':>7}  {'bytes':>9}  {'bytes':>9}"
        )
        for r in results:
            say(
                f"  {r['limit']:>5}  {r['latency']:>4} ms  {ms(r['a_med']):7.1f} / {ms(r['a_p90']):6.1f} ms  "
                f"{ms(r['b_med']):7.1f} / {ms(r['b_p90']):6.1f} ms  {ms(r['added']):6.1f} ms  {r['share']:6.1f} %"
                f"  {r['html_bytes']:>9,}  {r['json_bytes']:>9,}"
            )
        say("")
        say("  added = median of the pairwise differences a - b; share = added / median(b)")
        say(f"  goal: at most {GOAL_ADDED_MS:.0f} ms added at 20 items (median)")
        for r in results:
            if r["limit"] == 20:
                verdict = "met" if ms(r["added"]) <= GOAL_ADDED_MS else "MISSED"
                say(f"    20 items, {r['latency']:>3} ms latency: {ms(r['added']):6.1f} ms added  -> {verdict}")
        say(f"  goal: under {GOAL_SHARE:.0f} % added when the upstream takes 100 ms")
        for r in results:
            if r["latency"] == 100:
                verdict = "met" if r["share"] < GOAL_SHARE else "MISSED"
                say(
                    f"    {r['limit']:>3} items, 100 ms latency: {r['share']:5.1f} % added ({ms(r['added']):.1f} ms on {ms(r['b_med']):.1f} ms)  -> {verdict}"
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
