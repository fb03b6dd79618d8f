"""From Generate pressed to the job created, with two 2 MB photos: sent with the form
(as before, and as without JavaScript) or uploaded when picked (POST /photos/<slot>)
so that Generate sends only their references.

Each case sends ROUNDS jobs, alternating, to the dashboard under gunicorn (one sync
worker, DEBUG=false) against the simulator, with the sync process beside it, as the
page sends them (htmx: the form and the tray come back as fragments):

  before   POST / with both photos (multipart, about 4 MB): the photos are checked,
           stripped, thumbnailed and stored, then the job is created upstream;
  after    each photo uploaded first (POST /photos/clothes and /photos/person, as when
           picked: not timed as part of Generate), then POST / with the two references.

Figures: gunicorn's own time on the POST (its access log, %(D)s: from reading the
request to the last byte written), the time seen by the client (connection and
transfer included), the upstream job creation alone (the dashboard's genapi log, the
4 MB of photos sent to the upstream included), and the rest: the dashboard's own part.
The load average is printed before and after: the machine may be shared.

Run: .venv/bin/python bench/generate_latency.py [--rounds 15]   (prints figures; asserts nothing)
"""

from __future__ import annotations

import argparse
import os
import secrets
import time
from pathlib import Path

# support puts the repository on sys.path (for tests.support below).
from support import CALL_LINE, bench_stack, heading, main_guard, median, percentile, row, say

from tests.support.corpus import grainy_person_photo

HTMX = {"HX-Request": "true", "HX-Target": "generate-form"}
GOAL_MS = 150


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min; {os.cpu_count()} cores)"


def access_times(path: Path, offset: int) -> list[tuple[str, str, int, float]]:
    """(method, path, status, seconds) of each request gunicorn logged after `offset`."""
    with open(path, "rb") as f:
        f.seek(offset)
        lines = f.read().decode().splitlines()
    found = []
    for line in lines:
        parts = line.split()
        if len(parts) == 4 and parts[3].isdigit():
            found.append((parts[0], parts[1], int(parts[2]), int(parts[3]) / 1e6))
    return found


def job_creations_ms(log: Path, offset: int) -> list[float]:
    with open(log, "rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    return [
        float(match.group(4))
        for line in text.splitlines()
        if (match := CALL_LINE.search(line)) and match.group(1) == "POST" and "generate_image" in match.group(2)
    ]


def ms(values: list[float]) -> str:
    if not values:
        return "-"
    scaled = [value * 1000 for value in values]
    return (
        f"median {median(scaled):6.1f}  p90 {percentile(scaled, 90):6.1f}  "
        f"min {min(scaled):6.1f}  max {max(scaled):6.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="jobs sent by each case (default 15)")
    rounds = parser.parse_args().rounds
    heading("generate latency: from Generate pressed to the job created, two 2 MB photos")
    photos = {"clothes": grainy_person_photo(), "person": grainy_person_photo(grain=0.52)}
    say("  photos: " + ", ".join(f"{slot} {len(data) / 1e6:.2f} MB JPEG 1500 × 2000" for slot, data in photos.items()))
    say(f"  load average before: {load_average()}")
    # dashboard.wsgi: the server time is gunicorn's own (%(D)s), which uvicorn's worker does not log;
    # bench/live_latency.py times the same click in Chromium on the Procfile's web process.
    with bench_stack("generate_latency", access_log=True, web="wsgi") as stack:
        session = stack.session
        headers = {**HTMX, "Referer": stack.url("/"), "X-CSRFToken": stack.csrf()}
        access_log = stack.tmp / "access.log"

        def form(**fields: str) -> dict[str, str]:
            return {"tool": "fashion_swap", "submission": secrets.token_urlsafe(18), **fields}

        def send_files() -> float:
            files = {slot: (f"{slot}.jpg", data, "image/jpeg") for slot, data in photos.items()}
            started = time.perf_counter()
            response = session.post(stack.url("/"), data=form(), files=files, headers=headers, timeout=120)
            elapsed = time.perf_counter() - started
            if "Job sent" not in response.text:
                raise RuntimeError(f"the job with files was not sent: {response.status_code}")
            return elapsed

        def send_references() -> tuple[float, float]:
            kept = {}
            started = time.perf_counter()
            for slot, data in photos.items():
                response = session.post(
                    stack.url(f"/photos/{slot}"),
                    files={"photo": (f"{slot}.jpg", data, "image/jpeg")},
                    headers={"Accept": "application/json", "Referer": stack.url("/"), "X-CSRFToken": stack.csrf()},
                    timeout=120,
                )
                if response.status_code != 201:
                    raise RuntimeError(f"the upload was refused: {response.status_code} {response.text[:200]}")
                kept[f"{slot}__kept"] = str(response.json()["id"])
            uploaded = time.perf_counter() - started
            started = time.perf_counter()
            response = session.post(stack.url("/"), data=form(**kept), headers=headers, timeout=120)
            elapsed = time.perf_counter() - started
            if "Job sent" not in response.text:
                raise RuntimeError(f"the job with references was not sent: {response.status_code}")
            return uploaded, elapsed

        # Both logs are read from here once every request is answered (gunicorn may not
        # have written a line yet when the next request starts), in the order sent: one
        # unmeasured job of each kind first, then the cases alternating.
        access_mark = access_log.stat().st_size
        log_mark = stack.dashboard.log_path.stat().st_size
        # One of each first, unmeasured: imports, connections and caches warm up.
        send_files()
        send_references()
        client: dict[str, list[float]] = {"before": [], "after": []}
        uploads: list[float] = []
        for _ in range(rounds):
            client["before"].append(send_files())
            uploaded, elapsed = send_references()
            uploads.append(uploaded)
            client["after"].append(elapsed)
        time.sleep(1)
        logged = [entry for entry in access_times(access_log, access_mark) if entry[0] == "POST"]
        generate = [seconds for _, path, _, seconds in logged if path == "/"][2:]
        server = {"before": generate[0::2], "after": generate[1::2]}
        upload_server = [seconds for _, path, _, seconds in logged if path.startswith("/photos/")][2:]
        creations = job_creations_ms(stack.dashboard.log_path, log_mark)[2:]
        if len(generate) != 2 * rounds or len(creations) != 2 * rounds:
            raise RuntimeError(f"{len(generate)} Generate lines and {len(creations)} job creations logged")

    heading(f"POST / (Generate), {rounds} jobs each, ms")
    row("before: photos sent with the form", "")
    row("  server time (gunicorn)", ms(server["before"]))
    row("  seen by the client", ms(client["before"]))
    row("after: references only", "")
    row("  server time (gunicorn)", ms(server["after"]))
    row("  seen by the client", ms(client["after"]))
    upstream = {
        "before": [value / 1000 for value in creations[0::2]],
        "after": [value / 1000 for value in creations[1::2]],
    }
    for case in ("before", "after"):
        row(f"{case}: upstream job creation (genapi log)", ms(upstream[case]))
        own = [total - call for total, call in zip(server[case], upstream[case], strict=False)]
        row(f"{case}: the dashboard's own part", ms(own))
    row("the two uploads when picked (client)", ms(uploads))
    row("  one upload, server time", ms(upload_server))
    say(f"\n  goal: the job created within {GOAL_MS} ms of the click (after, server time, median)")
    say(f"  load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    main_guard(main)
