"""A connection the upstream closes without answering.

What a kept-alive connection looks like when the upstream closes it as idle just as a
call is sent on it: the request goes out and the connection ends with no answer. A read
is sent again on a new connection; a change never is (it may have been done), and no
call is tried again once its deadline has passed.
"""

from __future__ import annotations

import logging
import socket
import threading

import pytest

from dashboard import genapi

pytestmark = pytest.mark.integration

LISTING = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]"
UNANSWERED = b""


class ClosingServer:
    """Answers its connections in turn with `answers` (UNANSWERED: closed after reading
    the request), then closes the rest unanswered; counts the requests it read."""

    def __init__(self, *answers: bytes):
        self.answers = list(answers)
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ClosingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() waiting
        self._listener.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed by __exit__
            with connection:
                self.requests.append(connection.recv(65536))
                connection.sendall(self.answers.pop(0) if self.answers else UNANSWERED)


def test_a_read_whose_connection_closed_unanswered_is_sent_again():
    with ClosingServer(UNANSWERED, LISTING) as server:
        api = genapi.GenApiClient(server.url, "key")
        assert api.tools() == []
    assert len(server.requests) == 2


def test_a_read_never_answered_says_the_service_could_not_be_reached_after_its_tries():
    with ClosingServer() as server:
        api = genapi.GenApiClient(server.url, "key", read_retries=2)
        with pytest.raises(genapi.UpstreamUnavailable) as failure:
            api.history()
    assert len(server.requests) == 3
    assert "took too long" not in str(failure.value)
    assert not failure.value.never_arrived  # it was sent


@pytest.mark.parametrize(
    "change", [lambda api: api.set_feedback("abc", like=True), lambda api: api.delete("abc")], ids=["rate", "delete"]
)
def test_a_change_whose_connection_closed_unanswered_is_not_sent_again(change):
    with ClosingServer(UNANSWERED, LISTING) as server:
        api = genapi.GenApiClient(server.url, "key")
        with pytest.raises(genapi.UpstreamUnavailable) as failure:
            change(api)
    assert len(server.requests) == 1
    assert not failure.value.never_arrived  # it may have been done: the designer is told so


def test_a_read_closed_by_its_own_deadline_is_not_sent_again(caplog):
    # The deadline shuts the socket down under a read that waits: to the read that looks
    # like the upstream closing it. The listener only takes the connection and never answers.
    caplog.set_level(logging.WARNING, logger="urllib3")
    listener = socket.create_server(("127.0.0.1", 0))
    with listener:
        api = genapi.GenApiClient(f"http://127.0.0.1:{listener.getsockname()[1]}", "key", deadline=0.5)
        with pytest.raises(genapi.UpstreamUnavailable, match="took too long"):
            api.tools()
        listener.settimeout(0.2)
        accepted = []
        for _ in range(4):
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                break
        for connection in accepted:
            connection.close()
    assert len(accepted) == 1
    assert [record.getMessage() for record in caplog.records if "Retrying" in record.getMessage()] == []
