"""The web process's gunicorn worker (the Procfile's `web: ... -k dashboard.live.worker.UvicornWorker`):
uvicorn's worker, whose shutdown ends the open event streams first.

uvicorn stops by closing its listening sockets, then waits for every response under way to
finish. An event stream finishes only after LIVE_STREAM_SECONDS (ten minutes), so a worker
told to stop (SIGTERM: a deploy, a scale-in, a restart) sat out gunicorn's graceful timeout
(30 s) and was then killed, and a deploy waited as long. Here the streams are ended as the
shutdown begins: the worker exits as soon as its pages' responses are done, and each
browser's EventSource reconnects after its retry delay (LIVE_RETRY_MS), to another worker
or instance. Pages, uploads and downloads under way still get gunicorn's graceful timeout.
"""

from __future__ import annotations

import logging
import socket
import sys

import uvicorn
import uvicorn_worker
from gunicorn.arbiter import Arbiter

logger = logging.getLogger("dashboard.live")


class Server(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Imported here: gunicorn's master imports this module before Django is set up.
        from dashboard.live.hub import end_streams

        # Queued now, run once the server has closed its sockets (its first await): a
        # browser cannot reconnect to this worker.
        ended = end_streams()
        if ended:
            logger.info("live: stopping, %d event stream(s) ended (their browsers reconnect)", ended)
        await super().shutdown(sockets=sockets)


class UvicornWorker(uvicorn_worker.UvicornWorker):
    """uvicorn_worker's worker running the Server above (its _serve, with that one change)."""

    async def _serve(self) -> None:
        self.config.app = self.wsgi
        server = Server(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
