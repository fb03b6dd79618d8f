"""Run the background worker (`manage.py run_worker`) as a real subprocess for tests.

It works on the test database (SQLite file or PostgreSQL), so tests that use it need
`transactional_db`: rows must be committed for another process to see them. The worker
talks to the upstream the test's settings name (the simulator), and stores nothing of
its own outside the database and MEDIA_ROOT::

    with WorkerProcess(settings) as worker:
        runs.start_run(...)
        wait_until(lambda: ..., what="every cell sent")
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from types import TracebackType
from typing import IO, Self
from urllib.parse import quote

from django.db import connection

from tests.support.simulator import PROJECT_ROOT, end_process, read_output


def database_url() -> str:
    """The test database as a DATABASE_URL another process can open."""
    params = connection.settings_dict
    if params["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{params['NAME']}"
    credentials = quote(params["USER"] or "", safe="")
    if params.get("PASSWORD"):
        credentials += ":" + quote(params["PASSWORD"], safe="")
    host = f"{credentials}@" if credentials else ""
    return f"postgres://{host}{params['HOST'] or 'localhost'}:{params['PORT'] or 5432}/{params['NAME']}"


class WorkerProcess:
    def __init__(
        self, settings, *, sends_per_minute: int | None = None, name: str | None = None, database: str | None = None
    ) -> None:
        """`database`: a DATABASE_URL other than the test database's."""
        self.name = name or f"test-worker-{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "DATABASE_URL": database or database_url(),
            "DEBUG": "false",
            "HTTPS": "false",
            "SECRET_KEY": "tests-only-worker-secret-key-not-for-production",
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "GENAPI_BASE_URL": settings.GENAPI_BASE_URL,
            "GENAPI_API_KEY": settings.GENAPI_API_KEY,
            "RUN_SENDS_PER_MINUTE": str(sends_per_minute or settings.RUN_SENDS_PER_MINUTE),
            "PYTHONUNBUFFERED": "1",
        }
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        self._output = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "run_worker",
                "--no-startup-delay",
                "--interval",
                "0.1",
                "--worker-id",
                self.name,
            ],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )
        # The worker has no port to answer on: it is up once it says so.
        deadline = time.monotonic() + 30
        while "Starting worker" not in self.output():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{self.output()}")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        """Stop it at once, as a crash or an OOM kill would (no clean shutdown)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self) -> None:
        end_process(self._process, self._output)
        self._process, self._output = None, None

    def output(self) -> str:
        if self._output is None:
            return ""
        return read_output(self._output)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
