"""What following running jobs costs the upstream: nothing per page poll, and one running
listing per SYNC_RUNNING_SECONDS from the sync, whatever the number of jobs and tabs.

Pages read the index; the sync process (`manage.py sync_index`, started by bench_stack
with the default SYNC_* pacing) is the deployment's only status poller: every
SYNC_RUNNING_SECONDS (1 s; faster around expected ends, dashboard/index/pace.py) one `status=pending` listing while the index holds running
results (100 a page: here at most 57 run, so one page), plus one detail read for each
result that left it. So a poll of the tray
(GET /jobs/tray) or of the gallery's running cards (GET /history/poll) makes no upstream
call, and the upstream's cost does not grow with the open tabs or the running jobs.

For each N in (1, 10, 50) a fresh designer sends N jobs through the dashboard (POST /,
fashion_swap, small images): N - k that run for 10 minutes and k = min(3, N) that end
after SHORT_SECONDS. While all N run, TABS = 1 then 20 open tabs poll for WINDOW_SECONDS
each, every 2 s as htmx does (each tab alternately Generate's tray and History's running
cards, following the poll address each answer gives, as htmx does); counted in each window:

  page polls       the tabs' requests, and how many were answered 204 (nothing new)
  dashboard calls  upstream calls gunicorn made (its genapi log lines): expected 0
  sync calls       upstream calls the sync made (its own log), per second, and of them
                   the running listings (status=pending, from the simulator's access log)
                   per second, against 1 / SYNC_RUNNING_SECONDS

Then the k short jobs end upstream: the seconds until the tray shows them done (the sync's
next running tick: its listing no longer shows them, so it reads each once), the sync's
detail reads meanwhile, and the dashboard's calls for those tray ticks (0).

It also weighs one poll that finds nothing new, for the tray and for the history
gallery's poller, each asked exactly as the page's own poller asks (its hx-get address,
HX-Request, Accept-Encoding: gzip): status, body bytes on the wire, body bytes once
decoded, and the response's status line and headers; beside it, the full tray fragment
such a poll would otherwise bring. With N = 1 nothing runs then, so nothing polls.

Run: .venv/bin/python bench/poll_cost.py   (prints figures; asserts nothing about them)
"""

from __future__ import annotations

import gzip
import html
import re
import threading
import time
from collections import Counter

import requests
from support import bench_stack, heading, is_pending_listing, main_guard, say, small_jpeg

SIZES = (1, 10, 50)
TABS = (1, 20)
FINISHING = 3
WINDOW_SECONDS = 10.0
POLL_SECONDS = 2.0  # the tray's and the gallery poller's interval while jobs run (core/polling.py)
LONG_SECONDS = 600.0
# The finishing jobs must outlive both windows measured right after they are sent.
SHORT_SECONDS = 2 * WINDOW_SECONDS + 8
SYNC_RUNNING_SECONDS = 1.0  # dashboard/settings.py's default (2 s before the windows); bench_stack leaves it so
TRAY_SIZE = 12  # dashboard/generate/services.py: TRAY_SIZE


def designer(n: int) -> str:
    return f"designer-{n}"


def tray_facts(text: str) -> tuple[int, int, int]:
    """(cards shown, of which running per data-running, of which complete)."""
    cards = len(re.findall(r'class="job-card ', text))
    running = re.search(r'data-running="(\d+)"', text)
    complete = len(re.findall(r'class="job-card job-complete"', text))
    return cards, int(running.group(1)) if running else -1, complete


def poller_url(text: str, element_id: str) -> str | None:
    """The address the element polls (its hx-get), or None when it does not poll."""
    tag = re.search(rf'<[a-z]+ [^>]*id="{element_id}"[^>]*>', text)
    url = re.search(r'hx-get="([^"]+)"', tag.group(0)) if tag else None
    return html.unescape(url.group(1)) if url else None


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


def calls_text(calls: Counter[str]) -> str:
    return ", ".join(f"{name}: {count}" for name, count in sorted(calls.items())) or "none"


def main() -> int:
    heading("poll_cost: upstream calls of page polls and of the sync, by running jobs and open tabs")
    images = [small_jpeg(seed) for seed in range(8)]
    failures: list[str] = []
    rows = []
    with bench_stack("poll_cost", usernames=[designer(n) for n in SIZES]) as stack:
        sim = stack.sim
        api = requests.Session()
        api.headers.update(sim.headers)
        stack.wait_for_index()  # the first sync (of an empty history) and the catalogue

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
                    said = re.findall(
                        r'class="(?:form-error|field-error|notice notice-\w+)"[^>]*>(?:<p>)?([^<]+)', response.text
                    )
                    raise RuntimeError(
                        f"job {j} was not sent: HTTP {response.status_code}: {' / '.join(said) or response.text[:1500]}"
                    )
            return time.perf_counter() - started

        def upstream_pending() -> int:
            body = api.get(
                f"{sim.base_url}/user/generation-history", params={"status": "pending", "limit": 1}, timeout=10
            ).json()
            return int(body["total_count"])

        def window(session: requests.Session, tabs: int) -> dict:
            """`tabs` tabs polling for WINDOW_SECONDS; the upstream calls meanwhile, by process."""
            statuses: Counter[int] = Counter()
            lock = threading.Lock()
            stop_at = time.monotonic() + WINDOW_SECONDS

            def tab(number: int) -> None:
                mine = requests.Session()
                mine.cookies.update(session.cookies)
                if number % 2 == 0:
                    url, element = "/jobs/tray", "job-tray"
                else:
                    url = poller_url(mine.get(stack.url("/history/"), timeout=30).text, "gallery-poller")
                    element = "gallery-poller"
                time.sleep(POLL_SECONDS * number / max(tabs, 1))  # tabs opened at different moments
                while url and time.monotonic() < stop_at:
                    response = mine.get(stack.url(url), headers={"HX-Request": "true"}, timeout=30)
                    with lock:
                        statuses[response.status_code] += 1
                    if response.status_code == 200:
                        url = poller_url(response.text, element) or url
                    elif response.status_code == 286:
                        url = None
                    time.sleep(POLL_SECONDS)

            sim.clear_requests()
            mark = stack.mark()
            started = time.monotonic()
            threads = [threading.Thread(target=tab, args=(i,)) for i in range(tabs)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds = time.monotonic() - started
            calls = stack.calls_since(mark)
            entries = [e for e in sim.requests() if not e["path"].startswith("/_simulator")]
            listings = sum(1 for e in entries if is_pending_listing(e))
            return {
                "tabs": tabs,
                "seconds": seconds,
                "polls": sum(statuses.values()),
                "statuses": statuses,
                "dashboard": calls["dashboard"],
                "sync": calls["sync"],
                "upstream": len(entries),
                "listings": listings,
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
            shown = tray_facts(stack.tray(session).text)

            windows = [window(session, tabs) for tabs in TABS]
            if time.monotonic() - short_sent >= SHORT_SECONDS:
                failures.append(f"N={n}: the windows outlasted the short jobs ({SHORT_SECONDS:.0f} s)")

            # The k short jobs end upstream: the upstream's statuses and the tray, side by side,
            # every 0.1 s, until the tray shows them done (no longer running).
            mark = stack.mark()
            deadline = time.monotonic() + SHORT_SECONDS + 30
            still_running = min(TRAY_SIZE, n) - k
            upstream_end = tray_end = None
            ticks = 0
            while time.monotonic() < deadline:
                if upstream_end is None and all(
                    api.get(f"{sim.base_url}/user/generation-history/{item_id}", timeout=10).json()["status"]
                    != "pending"
                    for item_id in finishing_ids
                ):
                    upstream_end = time.monotonic()
                facts = tray_facts(stack.tray(session).text)
                if upstream_end is not None:
                    ticks += 1
                if facts[1] <= still_running:
                    tray_end = time.monotonic()
                    break
                time.sleep(0.1)
            if upstream_end is None or tray_end is None:
                failures.append(f"N={n}: the {k} short jobs did not end upstream, or on the tray, in time")
            seen_after = max(0.0, (tray_end or deadline) - (upstream_end or deadline))
            calls = stack.calls_since(mark)

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
                    "shown": shown,
                    "windows": windows,
                    "seen_after": seen_after,
                    "ticks": ticks,
                    "finish_calls": calls,
                    "full_tray": full_tray,
                    "tray_still": tray_still,
                    "gallery_still": gallery_still,
                    "tray_cards": tray_facts(tray_html)[0],
                }
            )

        heading("per N running: the upstream calls while the tabs polled (method path: count)")
        for r in rows:
            cards, running, _ = r["shown"]
            say(
                f"  N = {r['n']:>2}  (sent in {r['send_seconds']:.1f} s; running upstream, all designers: {r['pending_upstream']};"
                f" tray cards: {cards}, running: {running})"
            )
            for w in r["windows"]:
                codes = ", ".join(f"{code}: {count}" for code, count in sorted(w["statuses"].items()))
                sync_total = sum(w["sync"].values())
                say(
                    f"    {w['tabs']:>2} tab(s), {w['seconds']:.1f} s: {w['polls']} page polls ({codes});"
                    f" dashboard calls {sum(w['dashboard'].values())}"
                )
                say(
                    f"    {'':>9} sync calls {sync_total} = {sync_total / w['seconds']:.2f}/s [{calls_text(w['sync'])}];"
                    f" running listings {w['listings']} = {w['listings'] / w['seconds']:.2f}/s"
                    f" (simulator: {w['upstream']} calls in all)"
                )
            finish = r["finish_calls"]
            reads = finish["sync"]["GET /user/generation-history/{id}"]
            say(
                f"    {r['k']} job(s) ended upstream: the tray showed them done {r['seen_after']:.1f} s later"
                f" ({r['ticks']} tray ticks meanwhile, dashboard calls {sum(finish['dashboard'].values())});"
            )
            say(
                f"    {'':>9} the sync read {reads} of them on its own (the others it saw ended in a listing),"
                f" from the wait's start: [{calls_text(finish['sync'])}]"
            )

        heading("bytes of one poll that finds nothing new (after the k jobs ended; N - k jobs still running)")
        for r in rows:
            say(f"  N = {r['n']:>2}  ({r['tray_cards']} tray cards)")
            say(f"    full tray fragment  {describe(r['full_tray'])}")
            say(f"    tray poll           {describe(r['tray_still'])}")
            say(f"    gallery poll        {describe(r['gallery_still'])}")
        say("  goal: a poll that finds nothing new costs under 1 KB (body and headers together).")

        heading("summary")
        say(
            f"  {'running N':>9}  {'tabs':>4}  {'page polls':>10}  {'dashboard calls':>15}  {'sync calls/s':>12}"
            f"  {'running listings/s':>18}  {'done on the tray after':>22}"
        )
        for r in rows:
            for i, w in enumerate(r["windows"]):
                after = f"{r['seen_after']:.1f} s" if i == 0 else ""
                say(
                    f"  {r['n']:>9}  {w['tabs']:>4}  {w['polls']:>10}  {sum(w['dashboard'].values()):>15}"
                    f"  {sum(w['sync'].values()) / w['seconds']:>12.2f}  {w['listings'] / w['seconds']:>18.2f}  {after:>22}"
                )
        say("")
        say("  dashboard calls: upstream calls of the page polls (gunicorn's genapi log); goal 0 for every N and tabs.")
        say(
            f"  running listings/s: the sync's status=pending listings; goal 1 per SYNC_RUNNING_SECONDS"
            f" ({1 / SYNC_RUNNING_SECONDS:.2f}/s) whatever N and tabs"
        )
        say("  sync calls/s: everything the sync asked (also its follow of page 1 every 10 s, a sweep page every 5 s).")
        say(
            f"  done on the tray after: from the k jobs' end upstream to the tray showing them done; bounded by"
            f" SYNC_RUNNING_SECONDS ({SYNC_RUNNING_SECONDS:.0f} s) plus the sync's rest between ticks."
        )
        say(f"  the tray shows the designer's {TRAY_SIZE} most recent jobs; the sync follows every running job.")
        listing = [e for e in sim.requests() if is_pending_listing(e)]
        if listing:
            say(f"  running listing query seen: ?{listing[-1]['query']}")
    if failures:
        heading("problems")
        for failure in failures:
            say(f"  {failure}")
        return 1
    return 0


if __name__ == "__main__":
    main_guard(main)
