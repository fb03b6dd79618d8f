"""An upstream that answers a byte at a time, or answers too much, cannot hold a worker.

A real socket server of the test's own drips its answer; the per-read timeout never
fires (each byte comes well within it), so only an overall deadline ends the call.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
import responses

from dashboard import genapi
from dashboard.genapi import transport
from tests.support.simulator import free_port

pytestmark = pytest.mark.integration

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\nConnection: close\r\n\r\n"
BODY = b"[" + b" " * 38 + b"]"


class DrippingServer:
    """Answers every request with HEAD + BODY, sending `dripped` of it one byte at a time."""

    def __init__(self, *, drip_headers: bool, interval: float = 0.15):
        self.port = free_port()
        self.drip_headers = drip_headers
        self.interval = interval
        self.cut_off = threading.Event()  # the client hung up before the answer was whole
        self.finished = threading.Event()
        self._socket = socket.create_server(("127.0.0.1", self.port))
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> DrippingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._socket.close()

    def _serve(self) -> None:
        conn, _ = self._socket.accept()
        with conn:
            conn.recv(65536)
            quick, dripped = (b"", HEAD + BODY) if self.drip_headers else (HEAD, BODY)
            try:
                conn.sendall(quick)
                for index in range(len(dripped)):
                    conn.sendall(dripped[index : index + 1])
                    time.sleep(self.interval)
            except OSError:
                self.cut_off.set()
                return
            self.finished.set()


@pytest.mark.parametrize("drip_headers", [False, True], ids=["body", "headers"])
def test_a_dripping_answer_ends_at_the_deadline(drip_headers):
    # 40+ bytes at 0.15 s each would take 6 s or more; each byte is well inside the
    # 2 s read timeout, so only the 1 s deadline for the whole call can end it.
    with DrippingServer(drip_headers=drip_headers) as server:
        api = genapi.GenApiClient(f"http://127.0.0.1:{server.port}", "key", read_timeout=2.0, deadline=1.0)
        with pytest.raises(genapi.UpstreamUnavailable, match="took too long"):
            api.tools()
        assert server.cut_off.wait(5), "the connection was not closed at the deadline"
        assert not server.finished.is_set()


def test_an_answer_within_the_deadline_is_read_whole():
    with DrippingServer(drip_headers=False, interval=0.0) as server:
        api = genapi.GenApiClient(f"http://127.0.0.1:{server.port}", "key", read_timeout=2.0, deadline=5.0)
        assert api.tools() == []
        assert server.finished.wait(5)


def test_a_listing_larger_than_the_cap_is_refused_without_being_kept(monkeypatch):
    monkeypatch.setattr(transport, "MAX_JSON_BYTES", 64 * 1024)
    api = genapi.GenApiClient("http://genapi.test", "key", read_retries=0)
    huge = b'{"items": [' + b",".join(b'{"id": "%024x", "status": "complete"}' % n for n in range(3000)) + b"]}"
    assert len(huge) > 64 * 1024
    with responses.RequestsMock() as api_stub:
        api_stub.get("http://genapi.test/user/generation-history", body=huge, content_type="application/json")
        with pytest.raises(genapi.UpstreamError, match="larger than the dashboard accepts"):
            api.history()


def test_a_listing_under_the_cap_is_read(monkeypatch):
    monkeypatch.setattr(transport, "MAX_JSON_BYTES", 64 * 1024)
    api = genapi.GenApiClient("http://genapi.test", "key", read_retries=0)
    body = b'{"items": [' + b",".join(b'{"id": "%024x", "status": "complete"}' % n for n in range(100)) + b"]}"
    with responses.RequestsMock() as api_stub:
        api_stub.get("http://genapi.test/user/generation-history", body=body, content_type="application/json")
        assert len(api.history(limit=100).items) == 100


def test_an_image_copied_for_a_download_ends_at_the_deadline_too(tmp_path):
    # genapi.open_result copies a result into a file piece by piece: the same deadline.
    with DrippingServer(drip_headers=False) as server:
        api = genapi.GenApiClient(f"http://127.0.0.1:{server.port}", "key", read_timeout=2.0, deadline=1.0)
        with open(tmp_path / "copy", "wb") as into, pytest.raises(genapi.UpstreamUnavailable, match="took too long"):
            api.download_image("/image/generation_result/x.png", into)
        assert server.cut_off.wait(5), "the connection was not closed at the deadline"


def test_an_image_larger_than_the_cap_is_refused_while_it_is_copied(monkeypatch, tmp_path):
    monkeypatch.setattr(transport, "MAX_IMAGE_BYTES", 64 * 1024)
    api = genapi.GenApiClient("http://genapi.test", "key", read_retries=0)
    with responses.RequestsMock() as api_stub, open(tmp_path / "copy", "wb") as into:
        api_stub.get(
            "http://genapi.test/image/generation_result/x.png",
            body=b"\x89PNG" + b"\0" * 70_000,
            content_type="image/png",
        )
        with pytest.raises(genapi.TooLarge, match="larger than the dashboard accepts"):
            api.download_image("/image/generation_result/x.png", into)
        # Copied up to the cap, never past it, and never whole in memory.
        assert into.tell() <= 64 * 1024


def test_an_image_off_the_upstreams_origin_is_never_fetched(tmp_path):
    api = genapi.GenApiClient("http://genapi.test", "key", read_retries=0)
    with responses.RequestsMock() as api_stub, open(tmp_path / "copy", "wb") as into:
        for path in (
            "http://evil.example/x.png",
            "//evil.example/x.png",
            "https://genapi.test/x.png",
            "http://genapi.test:8080/x.png",
        ):
            with pytest.raises(genapi.NotFound):
                api.download_image(path, into)
        assert len(api_stub.calls) == 0
