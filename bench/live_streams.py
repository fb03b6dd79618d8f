"""What open event streams cost one web worker: 1,000 browsers listening at once.

The web process as the Procfile runs it (its `web:` command: gunicorn, the uvicorn worker,
dashboard.asgi; one worker process), its REDIS_URL on a private redis-server, one designer
logged in. N streams are opened on /events/ (raw sockets, so the client costs little), then:

  memory   the worker's RSS before the first stream and with all N open, per stream
  idle     the worker's CPU over IDLE_SECONDS with all N open and nothing happening
           (heartbeats every LIVE_HEARTBEAT_SECONDS; one Redis ping per heartbeat)
  fan-out  one change published on the live channel (as the sync publishes one): the
           time until every stream has received its event (median of 5)
  Redis    subscribers on the channel: one per web process, whatever N

Run: .venv/bin/python bench/live_streams.py [--streams 1000] [--idle 30]
(prints figures; asserts nothing about them)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import redis
from support import (
    REPO,
    children,
    cpu_seconds,
    dashboard_env,
    free_port,
    heading,
    install_signal_handlers,
    login,
    median,
    prepare_database,
    procfile_web_command,
    row,
    rss_kib,
    write_settings,
)

from tests.support.services import RedisServer

CHANNEL = "nextry:live:0"


async def open_stream(port: int, cookie: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /events/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sessionid={cookie}\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"the stream was refused: {head[:200]!r}")
    await reader.readuntil(b"retry:")
    return reader, writer


async def until_event(reader: asyncio.StreamReader) -> float:
    await reader.readuntil(b"event: result-changed")
    return time.perf_counter()


async def measure(port: int, cookie: str, worker: int, redis_url: str, count: int, idle: float) -> None:
    rss_before = rss_kib(worker)
    started = time.perf_counter()
    streams = []
    for first in range(0, count, 100):  # a hundred at a time: not a connection storm
        streams += await asyncio.gather(*(open_stream(port, cookie) for _ in range(first, min(count, first + 100))))
    opened_in = time.perf_counter() - started
    await asyncio.sleep(2)
    rss_after = rss_kib(worker)
    row("streams open", f"{len(streams)} in {opened_in:.1f} s")
    row("worker RSS", f"{rss_before / 1024:.1f} MiB before, {rss_after / 1024:.1f} MiB with all open")
    row("memory per stream", f"{(rss_after - rss_before) / len(streams):.1f} KiB")
    row("worker threads", str(len(list(Path(f"/proc/{worker}/task").iterdir()))))

    cpu_start = cpu_seconds(worker)
    await asyncio.sleep(idle)
    cpu = cpu_seconds(worker) - cpu_start
    row("worker CPU at idle", f"{cpu:.2f} s over {idle:.0f} s ({100 * cpu / idle:.1f} % of a core)")

    publisher = redis.Redis.from_url(redis_url)
    row("subscribers on the channel", str(publisher.pubsub_numsub(CHANNEL)[0][1]))
    delays = []
    for _ in range(5):
        message = json.dumps([{"event": "result-changed", "data": {"ids": ["bench"], "more": False}, "for": None}])
        sent = time.perf_counter()
        publisher.publish(CHANNEL, message)
        arrivals = await asyncio.gather(*(until_event(reader) for reader, _ in streams))
        delays.append((max(arrivals) - sent) * 1000)
        await asyncio.sleep(0.5)
    row(
        "one change to all streams",
        f"median {median(delays):.0f} ms (last stream), runs {', '.join(f'{d:.0f}' for d in delays)} ms",
    )
    for _, writer in streams:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=30.0)
    args = parser.parse_args()
    install_signal_handlers()  # SIGTERM/SIGHUP unwind like Ctrl-C: the servers are stopped
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # both ends of every stream are here

    heading(f"Event streams: {args.streams} open on one uvicorn worker")
    with tempfile.TemporaryDirectory(prefix="bench-live-") as folder, RedisServer() as server:
        tmp = Path(folder)
        write_settings(tmp)
        no_upstream = SimpleNamespace(base_url="http://127.0.0.1:9", api_key="unused")
        env = dashboard_env(tmp, no_upstream, REDIS_URL=server.url)  # type: ignore[arg-type]
        prepare_database(env)
        port = free_port()
        log = open(tmp / "web.log", "ab")
        web = subprocess.Popen(
            [*procfile_web_command(port), "--graceful-timeout", "2"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    session = login(f"http://127.0.0.1:{port}")
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            [worker] = children(web.pid)
            asyncio.run(measure(port, session.cookies["sessionid"], worker, server.url, args.streams, args.idle))
        finally:
            web.terminate()
            try:
                web.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(web.pid, signal.SIGKILL)
                web.wait()
            log.close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        raise SystemExit(130) from None
