"""The web process's ASGI application (dashboard/asgi.py: pages and event streams) served
by uvicorn in a thread of the test process, on the test database, as the Procfile's worker
(dashboard/live/worker.py: its Server, which ends the open streams as it stops) serves it
in a deployment. pytest-django's `live_server` is a WSGI server: it
cannot hold an event stream open.

    with asgi_server() as base_url:
        ...
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from dashboard.live.worker import Server
from tests.conftest import free_port


@contextmanager
def asgi_server() -> Iterator[str]:
    from dashboard.asgi import application

    port = free_port()
    server = Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(target=server.run, name="test-asgi", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the ASGI test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
