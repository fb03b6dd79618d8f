"""Run the Nextry API simulator as a real subprocess for tests.

Tests talk to it over a real socket, exactly like the dashboard does in production,
and steer it through its control endpoints (``/_simulator/...``)::

    with SimulatorProcess(tmp_path, env={"SIMULATOR_JOB_SECONDS": "0.5"}) as sim:
        requests.get(f"{sim.base_url}/generation/tools", headers={"Authorization": f"Bearer {sim.api_key}"})
        sim.configure(error_rate=1)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

# The project root (where `python -m simulator` is importable), found from this file so
# the helper works from any checkout location and any working directory.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_API_KEY = "sim-local-key"
START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def end_process(process: subprocess.Popen[bytes] | None, output: IO[bytes] | None) -> None:
    """Stop a server process of the tests' (terminate, then kill after 10 s) and close
    the file that holds its output."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if output is not None:
        output.close()


def read_output(output: IO[bytes]) -> str:
    """What a server process of the tests' wrote so far to `output`, the temporary file
    that is its stdout and stderr. Read with pread, at an offset: the process shares the
    file's offset with us, and a seek(0) then read() here made it write over its own
    first lines meanwhile (a worker's "Starting worker" line was lost that way)."""
    return os.pread(output.fileno(), os.fstat(output.fileno()).st_size, 0).decode("utf-8", "replace")


def control_session() -> requests.Session:
    """The session of the control calls. The simulator's server closes a connection idle
    for 5 s (uvicorn's keep-alive), and a call can pick it just as it closes: CI once saw
    "Remote end closed connection without response". Such a call is sent again on a new
    connection; every control call sets or reads, so a repeat changes nothing."""
    session = requests.Session()
    retry = Retry(total=2, connect=2, read=2, status=0, other=0, allowed_methods=None, backoff_factor=0)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


class SimulatorError(RuntimeError):
    """The simulator did not start, or a control call failed."""


class SimulatorProcess:
    def __init__(self, data_dir: Path, port: int | None = None, env: dict[str, str] | None = None) -> None:
        # Resolved now: the subprocess runs from the project root, not from our cwd.
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.extra_env = dict(env or {})
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        self._http = control_session()

    # --- Facts ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {**os.environ, **self.extra_env, "SIMULATOR_DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1"}
        return env

    @property
    def api_key(self) -> str:
        """The first key the simulator accepts for full access."""
        keys = [key.strip() for key in self.env.get("SIMULATOR_API_KEYS", "").split(",") if key.strip()]
        return keys[0] if keys else DEFAULT_API_KEY

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # --- Lifecycle ------------------------------------------------------------------

    def start(self) -> Self:
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # A temporary file rather than a pipe: nobody reads while it runs, and a full
        # pipe would block the server; its content explains a failed start.
        self._output = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_healthy()
        except BaseException:
            # Also on Ctrl-C (or a benchmark's SIGTERM) while waiting: __exit__ never runs
            # when __enter__ fails, so nothing else would stop it.
            self.stop()
            raise
        return self

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise SimulatorError(
                    f"simulator exited with code {self._process.returncode} before answering:\n{self.output()}"
                )
            try:
                if requests.get(f"{self.base_url}/_simulator/health", timeout=1).ok:
                    return
            except (requests.ConnectionError, requests.Timeout):
                # Not listening yet, or (on a busy machine) still starting: a read timeout.
                pass
            time.sleep(0.05)
        self.stop()
        raise SimulatorError(
            f"simulator did not answer on {self.base_url} within {START_TIMEOUT:.0f}s:\n{self.output()}"
        )

    def output(self) -> str:
        """Everything the process wrote to stdout/stderr so far."""
        if self._output is None:
            return ""
        return read_output(self._output)

    def stop(self) -> None:
        end_process(self._process, self._output)
        self._process, self._output = None, None
        self._http.close()
        self._http = control_session()  # connections to the old process are dead

    def restart(self) -> Self:
        """Stop and start again on the same port and data dir (state must survive)."""
        self.stop()
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # --- Control endpoints ----------------------------------------------------------

    def _control(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = self._http.request(method, f"{self.base_url}/_simulator/{path}", timeout=10, **kwargs)
        if not response.ok:
            raise SimulatorError(f"{method} /_simulator/{path} -> {response.status_code}: {response.text}")
        return response

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """Change runtime knobs (job_seconds, fail_rate, latency_ms, error_rate, error_body, rate_limit, bad_body)."""
        result: dict[str, Any] = self._control("PATCH", "config", json=knobs).json()
        return result

    def config(self) -> dict[str, Any]:
        result: dict[str, Any] = self._control("GET", "config").json()
        return result

    def requests(self) -> list[dict[str, Any]]:
        """The simulator's access log of API requests (raw paths), oldest first."""
        entries: list[dict[str, Any]] = self._control("GET", "requests").json()["requests"]
        return entries

    def clear_requests(self) -> None:
        self._control("DELETE", "requests")

    def seed(self, count: int) -> None:
        """Add ``count`` history items; safe while the server runs (separate process)."""
        completed = subprocess.run(
            [sys.executable, "-m", "simulator", "seed", "--count", str(count), "--data-dir", str(self.data_dir)],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if completed.returncode != 0:
            raise SimulatorError(f"seeding failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}")
