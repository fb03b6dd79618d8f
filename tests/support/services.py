"""Private PostgreSQL, Redis and S3 (moto) servers for the tests, and a runner.

Every server here is started by the test run itself: on a free loopback port, with a
random password and a throw-away data directory, and stopped afterwards. No system
service is used or touched. `scripts/ensure-services` installs the programs.

    python -m tests.support.services -- python -m pytest -m postgres_redis

starts PostgreSQL and Redis, runs the command with DATABASE_URL and REDIS_URL pointing
at them (and TEST_REDIS_RUN_ID naming the Redis that may be flushed), then stops both.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from tests.support.simulator import PROJECT_ROOT, end_process, free_port, read_output

START_TIMEOUT = 30.0
# Environment variable naming the run_id (from INFO server) of the one Redis server that
# the test run started and may therefore flush.
REDIS_RUN_ID_ENV = "TEST_REDIS_RUN_ID"
# run_ids of the Redis servers started by this process (fixtures of the tests).
STARTED_REDIS_RUN_IDS: set[str] = set()


class ServiceError(RuntimeError):
    """A server did not start."""


def _missing(program: str) -> ServiceError:
    return ServiceError(
        f"{program} is not installed: run the tests through `make test` (scripts/ensure-services installs it)."
    )


# --- Redis ----------------------------------------------------------------------------


class RedisServer:
    """A redis-server of our own: no persistence, a password, loopback only."""

    def __init__(self) -> None:
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.run_id = ""
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:

        program = shutil.which("redis-server")
        if program is None:
            raise _missing("redis-server")
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="nextry-redis-")
        self._output = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [
                program,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--requirepass",
                self.password,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir.name,
                "--daemonize",
                "no",
            ],
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )
        try:
            return self._wait_until_ready()
        except BaseException:
            # Also on Ctrl-C (or a benchmark's SIGTERM) while waiting: __exit__ never runs
            # when __enter__ fails, so nothing else would stop it.
            self.stop()
            raise

    def _wait_until_ready(self) -> Self:
        import redis

        assert self._process is not None
        client = redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServiceError(f"redis-server exited with code {self._process.returncode}:\n{self.output()}")
            try:
                self.run_id = client.info("server")["run_id"]
                STARTED_REDIS_RUN_IDS.add(self.run_id)
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
            finally:
                client.close()
        raise ServiceError(f"redis-server did not answer on port {self.port}")

    def output(self) -> str:
        if self._output is None:
            return ""
        return read_output(self._output)

    def stop(self) -> None:
        """Stop the process; the port and data directory are kept for a restart."""
        end_process(self._process, self._output)
        self._process, self._output = None, None

    def close(self) -> None:
        self.stop()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# --- PostgreSQL -----------------------------------------------------------------------


def postgres_bindir() -> Path:
    """Where initdb and pg_ctl are: on PATH, else Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name), reverse=True)
    for directory in candidates:
        if os.access(Path(directory) / "pg_ctl", os.X_OK):
            return Path(directory)
    raise _missing("PostgreSQL")


class PostgresServer:
    """A PostgreSQL cluster of our own in a temporary directory, on a loopback port.

    PostgreSQL refuses to run as root; as root the cluster belongs to, and runs as,
    the `postgres` user that Debian's package creates.
    """

    user = "nextry"
    database = "nextry"

    def __init__(self, max_connections: int = 60) -> None:
        self.port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.max_connections = max_connections
        self._dir: Path | None = None
        self._bindir = postgres_bindir()
        self._run_as: list[str] = []

    @property
    def url(self) -> str:
        return f"postgres://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    @property
    def data_dir(self) -> Path:
        assert self._dir is not None
        return self._dir / "data"

    def _run(self, *args: str) -> None:
        completed = subprocess.run([*self._run_as, *args], capture_output=True, text=True, timeout=120)
        if completed.returncode != 0:
            log = (
                (self._dir / "postgres.log").read_text() if self._dir and (self._dir / "postgres.log").exists() else ""
            )
            raise ServiceError(
                f"{' '.join(args[:2])} failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}{log}"
            )

    def start(self) -> Self:
        self._dir = Path(tempfile.mkdtemp(prefix="nextry-postgres-"))
        try:
            return self._start()
        except BaseException:
            self.stop()  # a half-started cluster is stopped and its directory removed
            raise

    def _start(self) -> Self:
        assert self._dir is not None
        (self._dir / "password").write_text(self.password)
        if os.getuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise ServiceError(
                    "running as root, PostgreSQL needs the `postgres` user (Debian's package creates it)"
                ) from None
            os.chown(self._dir, owner.pw_uid, owner.pw_gid)
            os.chown(self._dir / "password", owner.pw_uid, owner.pw_gid)
            runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin") or "runuser"
            self._run_as = [runuser, "-u", "postgres", "--"]
        self._run(
            str(self._bindir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            self.user,
            "--pwfile",
            str(self._dir / "password"),
            "--auth",
            "scram-sha-256",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
        )
        self.resume()
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.user, password=self.password, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f"CREATE DATABASE {self.database}")
        return self

    def pause(self) -> None:
        """Stop the server, keeping its data (an outage); `resume` starts it again."""
        self._run(str(self._bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        assert self._dir is not None
        options = (
            f"-p {self.port} -k {self._dir} -c listen_addresses=127.0.0.1 -c max_connections={self.max_connections}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self._bindir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self._dir / "postgres.log"),
            "-o",
            options,
            "-w",
            "-t",
            str(int(START_TIMEOUT)),
            "start",
        )

    def stop(self) -> None:
        if self._dir is None:
            return
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run(str(self._bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# --- S3 (moto) ------------------------------------------------------------------------


@contextmanager
def postgres_to_create_databases_on() -> Iterator[str]:
    """The URL of a PostgreSQL a test may create databases on: the run's own (under `make
    test-services`, DATABASE_URL), else a private server for as long as it is needed."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        yield url
    else:
        with PostgresServer() as server:
            yield server.url


class S3Server:
    """moto's standalone S3-compatible server, as its own process, over HTTP."""

    region = "eu-west-1"
    access_key = "nextry-test-access-key"
    secret_key = "nextry-test-secret-key"

    def __init__(self) -> None:
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None, "the S3 server is not running"
        return self._process.pid

    def start(self) -> Self:
        import requests

        self._output = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            cwd=PROJECT_ROOT,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServiceError(f"moto server exited:\n{read_output(self._output)}")
            try:
                requests.get(f"{self.endpoint_url}/moto-api/", timeout=1)
                return self
            except (requests.ConnectionError, requests.Timeout):  # a read timeout: still starting
                time.sleep(0.1)
        self.stop()
        raise ServiceError(f"moto server did not answer on port {self.port}")

    def stop(self) -> None:
        end_process(self._process, self._output)
        self._process, self._output = None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# --- The runner -----------------------------------------------------------------------


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        print("usage: python -m tests.support.services -- COMMAND [ARGS...]", file=sys.stderr)
        return 2

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    with PostgresServer() as postgres, RedisServer() as redis_server:
        env = {
            **os.environ,
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis_server.url,
            REDIS_RUN_ID_ENV: redis_server.run_id,
        }
        print(
            f"PostgreSQL on 127.0.0.1:{postgres.port}, Redis on 127.0.0.1:{redis_server.port} (private, stopped afterwards)",
            flush=True,
        )
        try:
            return subprocess.run(argv, env=env, cwd=PROJECT_ROOT).returncode
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
