"""Background thread that finishes pending jobs once their time has come.

Deadlines (``due_at``) live in the database, not in memory, so jobs that fell due while
the simulator was down are simply found due on the first tick after a restart.
"""

from __future__ import annotations

import logging
import random
import threading
import time

from PIL import Image

from simulator import imaging
from simulator.catalog import TOOLS_BY_NAME
from simulator.config import SimulatorConfig
from simulator.store import HistoryRecord, Status, Store

log = logging.getLogger("simulator.worker")

PROCESSING_ERROR = "The generation failed: processing error"
UNREADABLE_INPUT_ERROR = "The generation failed: an input image could not be read"
INTERNAL_ERROR = "The generation failed: internal error"


class JobWorker:
    """Polls for due jobs every ``poll_interval`` seconds on a daemon thread."""

    def __init__(
        self,
        store: Store,
        config: SimulatorConfig,
        poll_interval: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.poll_interval = poll_interval
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="simulator-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                # A broken tick (e.g. the database briefly locked by `seed`) must not end
                # the thread: the next tick simply tries again.
                log.exception("worker tick failed")
            self._stop.wait(self.poll_interval)

    def run_once(self, now: float | None = None) -> int:
        """Finish every job due at ``now``; returns how many were finished."""
        finished = 0
        for record in self.store.due(time.time() if now is None else now):
            if self._stop.is_set():
                break
            self._finish(record)
            finished += 1
        return finished

    def _finish(self, record: HistoryRecord) -> None:
        try:
            status, error = self._run_job(record)
        except Exception:
            log.exception("job %s failed while compositing", record.id)
            status, error = "error", INTERNAL_ERROR
        if not self.store.finish(record.id, status, error, time.time()):
            # Deleted while we were compositing: do not leave orphaned result files.
            self.store.paths.remove_item_files(record.id)

    def _run_job(self, record: HistoryRecord) -> tuple[Status, str | None]:
        tool = TOOLS_BY_NAME.get(record.tool)
        if tool is None:
            return "error", f"The generation failed: unknown tool {record.tool}"
        photos: dict[str, Image.Image] = {}
        for slot in tool.slots:
            relative = record.inputs.get(slot)
            if relative is None:
                return "error", UNREADABLE_INPUT_ERROR
            try:
                photos[slot] = imaging.load_rgb(self.store.paths.root / relative)
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
                return "error", UNREADABLE_INPUT_ERROR
        # The last slot is the subject (person, room, product, or the only image).
        if imaging.is_flat(photos[tool.slots[-1]]):
            return "error", tool.empty_subject_error
        if self.config.take_forced_failure(record.id) or self._rng.random() < self.config.fail_rate:
            return "error", PROCESSING_ERROR
        result = imaging.compose(tool.group_tool, photos)
        imaging.save_result(
            result,
            self.store.paths.result(record.id, "png"),
            self.store.paths.result(record.id, "webp"),
        )
        return "complete", None
