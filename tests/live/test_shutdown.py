"""A web process told to stop (SIGTERM from gunicorn's master, as a deploy or a scale-in
stops it) ends its open event streams at once and exits, rather than waiting for them to
end by themselves (LIVE_STREAM_SECONDS) until gunicorn's graceful timeout (30 s) kills it.
The browsers' EventSource reconnects, to another worker or instance.

The Procfile's web command itself, in a process of its own on the test database."""

import os
import queue
import signal
import subprocess
import tempfile
import time

import pytest
import requests

from tests.conftest import free_port
from tests.live.test_stream import open_stream
from tests.support.procfile import web_command
from tests.support.simulator import PROJECT_ROOT, end_process, read_output
from tests.support.worker import database_url

pytestmark = pytest.mark.integration

# Far under gunicorn's graceful timeout (30 s), which is what the worker waited before.
PROMPTLY = 10


def test_a_stopping_web_process_ends_its_event_streams_and_exits_promptly(pushing, designer, client, settings):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": pushing.url,
        "SECRET_KEY": settings.SECRET_KEY,  # the test client's session is valid there
        "DEBUG": "false",
        "HTTPS": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LIVE_HEARTBEAT_SECONDS": "0.5",
        "PYTHONUNBUFFERED": "1",
    }
    output = tempfile.TemporaryFile()
    process = subprocess.Popen(
        web_command(port), cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base_url}/healthz", timeout=2)  # any answer: it listens (503 without the upstream)
                break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline and process.poll() is None, read_output(output)
            time.sleep(0.1)
        streams = [open_stream(base_url, client) for _ in range(3)]
        for response, got in streams:
            assert response.status_code == 200
            assert got.get(timeout=5) == ("heartbeat", None)  # open, and waiting

        stopped = time.monotonic()
        process.send_signal(signal.SIGTERM)
        deadline = stopped + PROMPTLY
        for _, got in streams:
            try:
                while got.get(timeout=max(0.01, deadline - time.monotonic())) != ("end", None):
                    pass  # a heartbeat sent before the stop
            except queue.Empty:
                pytest.fail(f"a stream was still open {PROMPTLY} s after SIGTERM")
        try:
            process.wait(timeout=max(0.01, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pytest.fail(f"the web process was still running {PROMPTLY} s after SIGTERM:\n{read_output(output)}")
        assert process.returncode == 0, read_output(output)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        end_process(process, output)
