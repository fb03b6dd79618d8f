"""Open event streams hold no database connection (on SQLite and, in the services run,
on PostgreSQL): a thousand open tabs must not take a thousand connections."""

import os
from pathlib import Path

import pytest
from django.db import connection

from tests.live.test_stream import open_stream

pytestmark = [pytest.mark.integration, pytest.mark.postgres_redis]


def open_connections() -> int:
    """Connections to the test database: PostgreSQL's count, or this process's open
    handles on SQLite's file (every connection opens it)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            return cursor.fetchone()[0]
    database = os.path.realpath(connection.settings_dict["NAME"])
    handles = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            handles += os.path.realpath(fd) == database
        except OSError:
            continue
    return handles


def test_open_streams_hold_no_database_connection(asgi_app, designer, client):
    open_connections()  # this test's own connection, opened before counting
    before = open_connections()
    streams = [open_stream(asgi_app, client)]
    streams[0][1].get(timeout=5)
    with_one = open_connections()
    streams += [open_stream(asgi_app, client) for _ in range(4)]
    for response, got in streams[1:]:
        assert response.status_code == 200
        assert got.get(timeout=5) == ("heartbeat", None)  # open, and waiting
    # The one thread that starts every stream (the login's check) may keep its own
    # connection, as a page's thread does: one per process, none per open stream.
    assert with_one <= before + 1
    assert open_connections() == with_one
    for response, _ in streams:
        response.close()
