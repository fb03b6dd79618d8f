"""How long the web process takes to stop (SIGTERM, as a deploy stops it) with event
streams open.

The Procfile's web command exactly as declared (gunicorn, uvicorn's worker, dashboard.asgi;
gunicorn's own --graceful-timeout, 30 s, as in a deployment), REDIS_URL on a private
redis-server, one designer logged in. STREAMS streams are opened on /events/ (curl, as a
browser's EventSource holds them), then gunicorn's master is sent SIGTERM and timed:

  streams ended  from SIGTERM to the last stream's end (curl exits)
  master exited  from SIGTERM to gunicorn's master gone (its worker first)

A worker that waits for its streams to end by themselves (LIVE_STREAM_SECONDS, 10
minutes) is killed at the graceful timeout: the master then exits after ~30 s. The
Procfile's worker (dashboard/live/worker.py) ends them as it begins to stop.

--before also runs uvicorn's own worker class in the same command (what the Procfile ran
before dashboard/live/worker.py), alternating with the Procfile's.

Run: .venv/bin/python bench/web_shutdown.py [--streams 5] [--runs 3] [--before]   (prints figures)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace

from support import (
    REPO,
    dashboard_env,
    free_port,
    heading,
    install_signal_handlers,
    login,
    main_guard,
    median,
    prepare_database,
    procfile_web_command,
    row,
    say,
    write_settings,
)

from tests.support.services import RedisServer

BEFORE = "uvicorn_worker.UvicornWorker"  # the Procfile's worker class before dashboard/live/worker.py


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min; {os.cpu_count()} cores)"


def stop(process: subprocess.Popen) -> None:
    """SIGKILL to the process group, if anything of it is still running."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def command(port: int, worker: str | None) -> list[str]:
    """The Procfile's web command; `worker`: another worker class in its place (-k)."""
    words = procfile_web_command(port)
    if worker is not None:
        words[words.index("-k") + 1] = worker
    return words


def one_run(env: dict[str, str], tmp: Path, streams: int, stack: ExitStack, worker: str | None) -> tuple[float, float]:
    port = free_port()
    outputs = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=tmp)))  # this run's streams only
    log = stack.enter_context(open(tmp / "web.log", "ab"))
    web = subprocess.Popen(
        command(port, worker),
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stack.callback(stop, web)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            session = login(base_url)
            break
        except Exception:
            if time.monotonic() > deadline or web.poll() is not None:
                raise RuntimeError(f"the web process did not start:\n{(tmp / 'web.log').read_text()[-3000:]}") from None
            time.sleep(0.2)
    curl = shutil.which("curl")
    if curl is None:
        raise RuntimeError("curl is needed")
    clients = []
    for index in range(streams):
        out = outputs / f"stream-{index}.txt"
        client = subprocess.Popen(
            [
                curl,
                "-sN",
                "--cookie",
                f"sessionid={session.cookies['sessionid']}",
                f"{base_url}/events/",
                "-o",
                str(out),
            ],
            start_new_session=True,
        )
        stack.callback(stop, client)
        clients.append((client, out))
    deadline = time.monotonic() + 20
    while not all(out.exists() and b"retry:" in out.read_bytes() for _, out in clients):
        if time.monotonic() > deadline:
            raise RuntimeError("the streams did not open")
        time.sleep(0.05)
    started = time.monotonic()
    web.send_signal(signal.SIGTERM)
    ended = None
    while web.poll() is None or ended is None:
        if ended is None and all(client.poll() is not None for client, _ in clients):
            ended = time.monotonic() - started
        if time.monotonic() - started > 60:
            raise RuntimeError("the web process had not stopped 60 s after SIGTERM")
        time.sleep(0.02)
    return ended, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--before",
        action="store_true",
        help=f"also run uvicorn's own worker ({BEFORE}, which waits for the streams), alternating",
    )
    args = parser.parse_args()
    install_signal_handlers()
    heading(f"web shutdown: SIGTERM to the Procfile's web process with {args.streams} event streams open")
    say(f"  load average before: {load_average()}")
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-web_shutdown-")))
        redis_server = stack.enter_context(RedisServer())
        write_settings(tmp)
        no_upstream = SimpleNamespace(base_url="http://127.0.0.1:9", api_key="unused")
        env = dashboard_env(tmp, no_upstream, REDIS_URL=redis_server.url)  # type: ignore[arg-type]
        prepare_database(env)
        row("command", " ".join(procfile_web_command(0)[1:]).replace("127.0.0.1:0", "127.0.0.1:<port>"))
        workers = {"Procfile": None, **({"before": BEFORE} if args.before else {})}
        ended: dict[str, list[float]] = {name: [] for name in workers}
        exited: dict[str, list[float]] = {name: [] for name in workers}
        for _ in range(args.runs):
            for name, worker in workers.items():
                with ExitStack() as run:
                    first, second = one_run(env, tmp, args.streams, run, worker)
                ended[name].append(first)
                exited[name].append(second)
                row(
                    f"run ({name})",
                    f"streams ended {first:.2f} s, master exited {second:.2f} s after SIGTERM"
                    f" (load {os.getloadavg()[0]:.2f})",
                )
        for name, worker in workers.items():
            row(
                f"median ({name})",
                f"streams ended {median(ended[name]):.2f} s, master exited {median(exited[name]):.2f} s"
                + (f"  [-k {worker}]" if worker else ""),
            )
    say(f"  load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    main_guard(main)
