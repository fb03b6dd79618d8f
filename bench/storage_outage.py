"""What an image-store outage costs: answer times and status codes with S3 up, stopped and hung.

The web process as the Procfile runs it (gunicorn, uvicorn's worker, 4 threads) with
MEDIA_STORAGE=s3 on moto's S3 server, beside the simulator; the store's client settings
are the defaults (STORAGE_CONNECT_TIMEOUT 2 s, STORAGE_READ_TIMEOUT 5 s, STORAGE_RETRIES
1, STORAGE_RETRY_SECONDS 5 s). One library image is stored first. Then, for /healthz,
the Library page, that image's thumbnail, a photo uploaded as Generate uploads it when
picked, and an image added on the Library page, REQUESTS requests each are timed in
three states:

  up       S3 answers
  stopped  moto's process is gone: connections are refused at once
  hung     moto's process is frozen (SIGSTOP): connections are accepted by the kernel
           and never answered, so a call waits STORAGE_READ_TIMEOUT, and again per retry;
           after that the process does not try the store for STORAGE_RETRY_SECONDS
           (measured in this order: up, hung, stopped; /healthz asks the store at most
           once per HEALTHZ_CACHE_SECONDS, here 2 s, waited out after each change)

No request may answer 500; the figures are printed, not judged.

Run: .venv/bin/python bench/storage_outage.py   (prints figures; asserts nothing about them)
"""

from __future__ import annotations

import os
import signal
import time

import boto3
from support import bench_stack, heading, main_guard, median, say, small_jpeg

from tests.support.services import S3Server

REQUESTS = 5
BUCKET = "nextry-bench-media"
# /healthz's probes are remembered this long (the default is 15 s): after each change of
# state the bench waits it out, so /healthz's answers are about the state measured.
HEALTHZ_CACHE_SECONDS = 2
STATES = ("up", "stopped", "hung")


def actions(stack, thumbnail: str) -> list[tuple[str, object]]:
    """(label, a function making one request and answering it) for each thing measured."""
    session = stack.session

    def post(path: str, field: str, data: dict[str, str]):
        return session.post(
            stack.url(path),
            data={**data, "csrfmiddlewaretoken": stack.csrf()},
            files={field: ("model.jpg", small_jpeg(3), "image/jpeg")},
            headers={"Referer": stack.url("/"), "HX-Request": "true"},
            timeout=120,
        )

    return [
        ("/healthz", lambda: session.get(stack.url("/healthz"), timeout=120)),
        ("library page", lambda: session.get(stack.url("/library/"), timeout=120)),
        ("thumbnail", lambda: session.get(stack.url(thumbnail), timeout=120)),
        ("upload on pick", lambda: post("/photos/person", "photo", {})),
        ("library add", lambda: post("/library/add", "images", {"kind": "person"})),
    ]


def measure(request) -> tuple[list[float], set[int]]:
    times, statuses = [], set()
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = request()
        times.append((time.perf_counter() - started) * 1000)
        statuses.add(response.status_code)
    return times, statuses


def main() -> int:
    heading("storage_outage: answer times with the image store (S3, moto) up, stopped and hung")
    with S3Server() as s3_server:
        boto3.client(
            "s3",
            endpoint_url=s3_server.endpoint_url,
            region_name=s3_server.region,
            aws_access_key_id=s3_server.access_key,
            aws_secret_access_key=s3_server.secret_key,
        ).create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": s3_server.region})
        env = {
            "MEDIA_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_S3_ENDPOINT_URL": s3_server.endpoint_url,
            "AWS_S3_REGION_NAME": s3_server.region,
            "AWS_ACCESS_KEY_ID": s3_server.access_key,
            "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
            "HEALTHZ_CACHE_SECONDS": str(HEALTHZ_CACHE_SECONDS),
        }
        with bench_stack("storage_outage", dashboard_extra_env=env, threads=4, sync=False) as stack:
            added = stack.session.post(
                stack.url("/photos/person"),
                data={"csrfmiddlewaretoken": stack.csrf()},
                files={"photo": ("model.jpg", small_jpeg(1), "image/jpeg")},
                headers={"Referer": stack.url("/")},
                timeout=60,
            )
            if added.status_code != 201:
                say(f"  the first photo was not stored: HTTP {added.status_code}")
                return 1
            measured = actions(stack, added.json()["thumbnail"])
            results: dict[str, dict[str, tuple[list[float], set[int]]]] = {}
            results["up"] = {label: measure(request) for label, request in measured}
            pid = s3_server.pid
            os.kill(pid, signal.SIGSTOP)
            time.sleep(HEALTHZ_CACHE_SECONDS + 0.5)
            try:
                results["hung"] = {label: measure(request) for label, request in measured}
            finally:
                os.kill(pid, signal.SIGCONT)
            s3_server.stop()
            time.sleep(HEALTHZ_CACHE_SECONDS + 0.5)
            results["stopped"] = {label: measure(request) for label, request in measured}

            say(f"{REQUESTS} requests per action and state; times in ms (median / max) [status codes]")
            say(f"{'action':<16}" + "".join(f"{state:>30}" for state in STATES))
            for label, _ in measured:
                cells = []
                for state in STATES:
                    times, statuses = results[state][label]
                    codes = ",".join(str(code) for code in sorted(statuses))
                    cells.append(f"{median(times):8.1f} / {max(times):8.1f} [{codes}]")
                say(f"{label:<16}" + "".join(f"{cell:>30}" for cell in cells))
            log = stack.dashboard.log_tail(5000)
            # Django logs every 5xx answer at ERROR; an exception nobody answered has its traceback.
            say(
                f"lines logged at ERROR: {log.count('"level": "ERROR"')}, of them with a traceback: {log.count('"exc_info"')}"
            )
    return 0


if __name__ == "__main__":
    main_guard(main)
