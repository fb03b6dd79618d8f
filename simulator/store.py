"""Persistent state of the simulator: an SQLite table of history items plus image files.

Layout of the data dir::

    simulator.sqlite3                     history items
    images/uploads/<id>/<slot>.<ext>      the inputs of a job, kept until it is deleted
    images/generation_result/<id>.png     stock result (full composite)
    images/generation_result/<id>.webp    preview result
    images/generation_type/<type id>.webp generation type previews (a cache)

The server process (request threads + worker thread) shares one connection guarded by a
lock; the ``seed`` command may write from a second process at the same time, so the
database runs in WAL mode with a busy timeout instead of failing with "database is locked".
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sqlite3
import struct
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

Status = Literal["pending", "complete", "error"]
STATUSES: tuple[Status, ...] = ("pending", "complete", "error")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    id                 TEXT PRIMARY KEY,
    tool               TEXT NOT NULL,
    generation_type_id TEXT,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'complete', 'error')),
    created_at         REAL NOT NULL,
    due_at             REAL NOT NULL,
    finished_at        REAL,
    liked              INTEGER,
    error              TEXT,
    inputs             TEXT NOT NULL DEFAULT '{}'
);
DROP INDEX IF EXISTS history_newest;
CREATE INDEX IF NOT EXISTS history_newest_by_second ON history (CAST(created_at AS INTEGER) DESC, id DESC);
CREATE INDEX IF NOT EXISTS history_due ON history (status, due_at);
"""

# Newest first by the second the API shows, then by id: the order a client can tell from
# what it is given (times at second precision), so two results made in one second are
# listed the same way every time, by the simulator and by the dashboard's index alike.
_NEWEST_FIRST = "CAST(created_at AS INTEGER) DESC, id DESC"

_COLUMNS = "id, tool, generation_type_id, status, created_at, due_at, finished_at, liked, error, inputs"

# ObjectId-style ids: 4-byte timestamp, 5 random bytes per process, 3-byte counter.
_PROCESS_RANDOM = os.urandom(5)
_COUNTER = itertools.count(int.from_bytes(os.urandom(3), "big"))
_COUNTER_LOCK = threading.Lock()


def new_object_id(timestamp: float | None = None) -> str:
    """A new 24-hex id shaped like a MongoDB ObjectId, as the vendor's examples show."""
    seconds = int(time.time() if timestamp is None else timestamp) & 0xFFFFFFFF
    with _COUNTER_LOCK:
        counter = next(_COUNTER) & 0xFFFFFF
    return (struct.pack(">I", seconds) + _PROCESS_RANDOM + counter.to_bytes(3, "big")).hex()


def iso_utc(timestamp: float | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` and second precision, like the vendor's example."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class HistoryRecord:
    id: str
    tool: str
    generation_type_id: str | None
    status: Status
    created_at: float
    due_at: float
    finished_at: float | None = None
    like: bool | None = None
    error: str | None = None
    # slot name -> path of the stored upload, relative to the data dir
    inputs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> HistoryRecord:
        liked = row["liked"]
        return cls(
            id=row["id"],
            tool=row["tool"],
            generation_type_id=row["generation_type_id"],
            status=row["status"],
            created_at=row["created_at"],
            due_at=row["due_at"],
            finished_at=row["finished_at"],
            like=None if liked is None else bool(liked),
            error=row["error"],
            inputs=json.loads(row["inputs"] or "{}"),
        )

    def as_row(self) -> tuple[object, ...]:
        liked = None if self.like is None else int(self.like)
        return (
            self.id,
            self.tool,
            self.generation_type_id,
            self.status,
            self.created_at,
            self.due_at,
            self.finished_at,
            liked,
            self.error,
            json.dumps(self.inputs),
        )


class DataDir:
    """Paths inside the data dir; the only place that knows the on-disk layout."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.images = root / "images"
        self.results = self.images / "generation_result"
        self.uploads = self.images / "uploads"
        self.type_previews = self.images / "generation_type"

    def ensure(self) -> None:
        for directory in (self.results, self.uploads, self.type_previews):
            directory.mkdir(parents=True, exist_ok=True)

    @property
    def database(self) -> Path:
        return self.root / "simulator.sqlite3"

    def result(self, item_id: str, ext: Literal["png", "webp"]) -> Path:
        return self.results / f"{item_id}.{ext}"

    def upload_dir(self, item_id: str) -> Path:
        return self.uploads / item_id

    def remove_item_files(self, item_id: str) -> None:
        """Drop an item's results and uploads; missing files are fine (never produced)."""
        for ext in ("png", "webp"):
            self.result(item_id, ext).unlink(missing_ok=True)
        shutil.rmtree(self.upload_dir(item_id), ignore_errors=True)


class Store:
    """Thread-safe access to the history table."""

    def __init__(self, data_dir: DataDir) -> None:
        self.paths = data_dir
        data_dir.ensure()
        self._lock = threading.Lock()
        # Autocommit mode: every statement is its own transaction unless we BEGIN
        # explicitly, which keeps write locks short for the other process.
        self._db = sqlite3.connect(data_dir.database, check_same_thread=False, isolation_level=None, timeout=10.0)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def insert_many(self, records: Iterable[HistoryRecord]) -> None:
        rows = [record.as_row() for record in records]
        placeholders = ", ".join("?" * len(_COLUMNS.split(",")))
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(f"INSERT INTO history ({_COLUMNS}) VALUES ({placeholders})", rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def insert(self, record: HistoryRecord) -> None:
        self.insert_many([record])

    def get(self, item_id: str) -> HistoryRecord | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM history WHERE id = ?", (item_id,)).fetchone()
        return HistoryRecord.from_row(row) if row else None

    def page(
        self,
        *,
        offset: int,
        limit: int,
        statuses: Sequence[str] = (),
        generation_type: str | None = None,
    ) -> tuple[int, list[HistoryRecord]]:
        """Total matching count and one page of items, newest first."""
        clauses: list[str] = []
        params: list[object] = []
        if statuses:
            clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
            params.extend(statuses)
        if generation_type:
            # The vendor's filter is documented as a type id while items carry a tool
            # name in `generation_type`; accept either so both readings work.
            clauses.append("(generation_type_id = ? OR tool = ?)")
            params.extend((generation_type, generation_type))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM history {where}", params).fetchone()[0]
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM history {where} ORDER BY {_NEWEST_FIRST} LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        return total, [HistoryRecord.from_row(row) for row in rows]

    def set_like(self, item_id: str, like: bool) -> bool:
        with self._lock:
            cursor = self._db.execute("UPDATE history SET liked = ? WHERE id = ?", (int(like), item_id))
        return cursor.rowcount > 0

    def delete(self, item_id: str) -> bool:
        with self._lock:
            cursor = self._db.execute("DELETE FROM history WHERE id = ?", (item_id,))
        return cursor.rowcount > 0

    def due(self, now: float, limit: int = 20) -> list[HistoryRecord]:
        """Pending items whose time has come, oldest deadline first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM history WHERE status = 'pending' AND due_at <= ? ORDER BY due_at LIMIT ?",
                (now, limit),
            ).fetchall()
        return [HistoryRecord.from_row(row) for row in rows]

    def finish(self, item_id: str, status: Status, error: str | None, finished_at: float) -> bool:
        """Move a pending item to its final status; False if it is gone or already final.

        Statuses only ever flip once (pending -> complete | error), as the vendor documents.
        """
        with self._lock:
            cursor = self._db.execute(
                "UPDATE history SET status = ?, error = ?, finished_at = ? WHERE id = ? AND status = 'pending'",
                (status, error, finished_at, item_id),
            )
        return cursor.rowcount > 0
