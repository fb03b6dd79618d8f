"""How long the README's backup and restore takes ("Backup and restore"), and how big the
dump is: a database of 100,000 indexed results (filled as bench/insights.py fills it: 5 %
made here, with their jobs, inputs and designers) on a private PostgreSQL
(tests/support/services.py, stopped at the end), then `pg_dump --format=custom`, a fresh
database, `pg_restore --no-owner`, and `migrate` on the restored database (nothing to
apply). The load average is printed beside the figures: the machine is shared.

Run:  .venv/bin/python bench/backup_restore.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from insights import load_average
from support import PYTHON, REPO, heading, install_signal_handlers, main_guard, row, say

from tests.support.services import PostgresServer, postgres_bindir

FILL = """
import sys
sys.path.insert(0, "bench")
from insights import fill
fill({rows})
"""


def timed(command: list[str], env: dict[str, str], cwd: Path = REPO) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=3600)
    if completed.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}")
    return time.perf_counter() - started


def client(program: str, url: str, *args: str) -> list[str]:
    parts = urlsplit(url)
    where = ["-h", parts.hostname or "", "-p", str(parts.port), "-U", parts.username or "", "-d", parts.path[1:]]
    return [str(postgres_bindir() / program), *where, *args]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    install_signal_handlers()
    say(f"bench/backup_restore.py: {args.rows:,} indexed results; {load_average()}")
    with tempfile.TemporaryDirectory(prefix="backup-bench-") as tmp_name, PostgresServer() as postgres:
        tmp = Path(tmp_name)
        restored_url = urlsplit(postgres.url)._replace(path="/nextry_restored").geturl()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))},
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "DEBUG": "true",
            "SECRET_KEY": "bench-only",
            "DATABASE_URL": postgres.url,
            "MEDIA_ROOT": str(tmp / "media"),
            "PGPASSWORD": postgres.password,
        }
        timed([PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], env)
        timed([PYTHON, "manage.py", "shell", "--no-imports", "-c", FILL.format(rows=args.rows)], env)
        dump = tmp / "nextry.dump"
        dump_seconds = timed(client("pg_dump", postgres.url, "--format=custom", "--file", str(dump)), env)
        with psycopg.connect(urlsplit(postgres.url)._replace(path="/postgres").geturl(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE nextry_restored")
        restore_seconds = timed(client("pg_restore", restored_url, "--no-owner", "--exit-on-error", str(dump)), env)
        migrate_seconds = timed(
            [PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], {**env, "DATABASE_URL": restored_url}
        )
        with psycopg.connect(postgres.url) as original, psycopg.connect(restored_url) as restored:
            sizes = [
                c.execute("SELECT pg_database_size(current_database())").fetchone()[0] for c in (original, restored)
            ]
            counts = [
                c.execute("SELECT count(*) FROM dashboard_indexedresult").fetchone()[0] for c in (original, restored)
            ]
        heading(f"PostgreSQL, {args.rows:,} indexed results")
        row("database size", f"{sizes[0] / 2**20:.0f} MiB")
        row("pg_dump --format=custom", f"{dump_seconds:.1f} s, {dump.stat().st_size / 2**20:.1f} MiB")
        row("pg_restore into a fresh database", f"{restore_seconds:.1f} s ({sizes[1] / 2**20:.0f} MiB)")
        row("migrate on the restored database", f"{migrate_seconds:.1f} s (nothing to apply)")
        row("results restored", f"{counts[1]:,} of {counts[0]:,}")
        say(load_average())
    return 0


if __name__ == "__main__":
    main_guard(main)
