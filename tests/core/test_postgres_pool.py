"""psycopg's connection pool, offered through DATABASE_POOL_MAX, on a real PostgreSQL.

Under `make test-services` this is the run's own PostgreSQL; in the SQLite run the
test starts a private one (tests/support/services.py), so it always runs.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.services import postgres_to_create_databases_on

pytestmark = pytest.mark.postgres_redis

ROOT = Path(__file__).resolve().parents[2]

# Twelve threads, as in a gunicorn worker with --threads 12, each making a query while
# the others are still busy (a barrier lines them up), then ending its request.
THREADS_SCRIPT = """
import json, threading
from django.db import connection, close_old_connections
from django.core.signals import request_finished
barrier = threading.Barrier(12)
pids, errors = [], []
def request():
    try:
        barrier.wait(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid(), pg_sleep(0.05)")
            pids.append(cursor.fetchone()[0])
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        request_finished.send(sender=None)  # what Django does after each request
threads = [threading.Thread(target=request) for _ in range(12)]
[t.start() for t in threads]; [t.join() for t in threads]
stats = connection.pool.get_stats()
print(json.dumps({"pids": pids, "errors": errors, "pool_min": stats["pool_min"], "pool_max": stats["pool_max"],
                  "conn_max_age": connection.settings_dict["CONN_MAX_AGE"]}))
"""


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_to_create_databases_on() as url:
        yield url


def run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env={
            **clean,
            "DEBUG": "true",
            "SECRET_KEY": "pool-test",
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


class TestConnectionPool:
    def test_twelve_threads_share_at_most_the_pools_four_connections(self, postgres_url):
        result = run(THREADS_SCRIPT, {"DATABASE_URL": postgres_url, "DATABASE_POOL_MAX": "4", "DATABASE_POOL_MIN": "1"})
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert report["errors"] == []
        assert len(report["pids"]) == 12
        assert 1 <= len(set(report["pids"])) <= 4  # PostgreSQL saw at most four sessions
        assert (report["pool_min"], report["pool_max"]) == (1, 4)
        assert report["conn_max_age"] == 0  # the pool, not Django, keeps connections open

    def test_a_worker_that_exits_closes_its_pool_instead_of_waiting_on_it(self, postgres_url):
        # Left open, the pool's threads each hold up the process's exit for five seconds
        # (a gunicorn worker restarting, or the pool test above taking 20 s to end).
        result = run(THREADS_SCRIPT, {"DATABASE_URL": postgres_url, "DATABASE_POOL_MAX": "4"})
        assert result.returncode == 0, result.stderr
        assert "couldn't stop thread" not in result.stderr

    def test_without_the_setting_there_is_no_pool(self, postgres_url):
        result = run(
            "from django.db import connection; print(connection.settings_dict['OPTIONS'].get('pool'), connection.settings_dict['CONN_MAX_AGE'])",
            {"DATABASE_URL": postgres_url},
        )
        assert result.stdout.split() == ["None", "60"], result.stderr

    def test_a_pool_on_sqlite_is_refused_with_a_clear_message(self, tmp_path):
        result = run(
            "from django.conf import settings; settings.DATABASES",
            {"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", "DATABASE_POOL_MAX": "4"},
        )
        assert result.returncode != 0
        assert "DATABASE_POOL_MAX needs PostgreSQL" in result.stderr

    def test_a_connection_killed_by_the_server_is_replaced_not_handed_out(self, postgres_url):
        # As after a database restart or failover: every pooled connection is cut.
        code = (
            "from django.db import connection\n"
            "from django.core.signals import request_finished\n"
            "def pid():\n"
            "    with connection.cursor() as c:\n"
            "        c.execute('SELECT pg_backend_pid()'); value = c.fetchone()[0]\n"
            "    request_finished.send(sender=None)\n"
            "    return value\n"
            "first = pid()\n"
            "import psycopg\n"
            "with psycopg.connect("
            + repr(postgres_url.replace("postgres://", "postgresql://"))
            + ", autocommit=True) as admin:\n"
            "    admin.execute('SELECT pg_terminate_backend(%s)', [first])\n"
            "print(first, pid())\n"
        )
        result = run(code, {"DATABASE_URL": postgres_url, "DATABASE_POOL_MAX": "1"})
        assert result.returncode == 0, result.stderr
        first, second = result.stdout.split()
        assert first != second
