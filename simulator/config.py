"""Configuration of the Nextry API simulator.

Every knob is read from the environment once at start-up; the "runtime" knobs can then
be changed while the simulator runs through ``PATCH /_simulator/config`` (see app.py),
which is how tests and demos provoke latency, faults and rate limiting without a restart.

Environment variables (default in brackets):

``SIMULATOR_API_KEYS`` [``sim-local-key``]
    Comma-separated bearer keys that may call every API endpoint.
``SIMULATOR_READONLY_KEYS`` [empty]
    Comma-separated keys that may read, but get 403 on POST/PATCH/DELETE
    (a plan that does not allow the operation).
``SIMULATOR_DATA_DIR`` [``var/simulator``, relative to the working directory]
    Holds ``simulator.sqlite3`` and ``images/`` (uploads, results, type previews).
``SIMULATOR_JOB_SECONDS`` [``3``]
    Seconds a new job stays ``pending`` before the worker finishes it (float allowed).
``SIMULATOR_FAIL_RATE`` [``0``]
    Probability (0..1) that a job ends in ``error`` ("The generation failed: processing error").
``SIMULATOR_LATENCY_MS`` [``0``]
    Milliseconds added to every API request before it is handled.
``SIMULATOR_ERROR_RATE`` [``0``]
    Probability (0..1) that an API request is answered with an injected server error.
``SIMULATOR_ERROR_BODY`` [``json``]
    ``json``: injected errors are 500 ``{"detail": "Internal processing error"}``;
    ``html``: they are 502 ``text/html`` pages, like a proxy in front of a dead backend.
``SIMULATOR_RATE_LIMIT`` [empty = off]
    ``N/S``: at most N requests per S seconds per key; more get 429 with ``Retry-After``.
``SIMULATOR_BAD_BODY`` [empty = off]
    Every API request (after auth, like the error rate) is answered 200 with a body the
    client cannot use: ``html``: ``text/html``, the page of a misrouted proxy
    (``<h1>Welcome to nginx!</h1>``); ``json``: ``application/json`` but truncated,
    malformed JSON (``{"items": [{"id": "abc", "sta``). At run time ``null`` turns it off.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

ErrorBody = Literal["json", "html"]
BadBody = Literal["json", "html"]

DEFAULT_API_KEY = "sim-local-key"
DEFAULT_DATA_DIR = "var/simulator"


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` requests per ``seconds`` seconds, per API key."""

    requests: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """Parse ``"N/S"``; raises ValueError with a readable message otherwise."""
        count, sep, window = text.strip().partition("/")
        if not sep:
            raise ValueError(f"rate limit must look like N/S, got {text!r}")
        try:
            requests, seconds = int(count), float(window)
        except ValueError:
            raise ValueError(f"rate limit must look like N/S, got {text!r}") from None
        if requests < 1 or seconds <= 0:
            raise ValueError(f"rate limit needs N >= 1 and S > 0, got {text!r}")
        return cls(requests=requests, seconds=seconds)

    def __str__(self) -> str:
        # Render "100/60" rather than "100/60.0" so the value round-trips as it was set.
        seconds = int(self.seconds) if self.seconds.is_integer() else self.seconds
        return f"{self.requests}/{seconds}"


def _split_keys(raw: str | None) -> tuple[str, ...]:
    return tuple(key.strip() for key in (raw or "").split(",") if key.strip())


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float | None) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        upper = "" if high is None else f"..{high:g}"
        raise ValueError(f"{name} must be in {low:g}{upper or '..'}, got {raw!r}")
    return value


@dataclass
class SimulatorConfig:
    """Static settings (keys, data dir) plus the knobs that may change at run time.

    The runtime knobs are read on every request and by the worker thread; ``update``
    changes them under a lock so a PATCH never leaves a half-applied combination.
    """

    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    readonly_keys: tuple[str, ...] = ()
    data_dir: Path = field(default_factory=lambda: Path(DEFAULT_DATA_DIR))
    job_seconds: float = 3.0
    fail_rate: float = 0.0
    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_body: ErrorBody = "json"
    rate_limit: RateLimit | None = None
    bad_body: BadBody | None = None
    # Time between sending an answer and writing its access-log entry: widens, for the
    # log's own test, the moment in which a client holds an answer that is not logged yet.
    log_delay_ms: float = 0.0
    # The next this-many jobs created will end in a processing error, whatever fail_rate
    # says: a test's "one job fails on purpose", deterministic (decided at creation, so
    # jobs created earlier and still running are not affected).
    fail_next: int = 0
    _doomed: set[str] = field(default_factory=set, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    # The knobs PATCH /_simulator/config may change.
    RUNTIME_KNOBS: ClassVar[tuple[str, ...]] = (
        "job_seconds",
        "fail_rate",
        "latency_ms",
        "error_rate",
        "error_body",
        "rate_limit",
        "bad_body",
        "log_delay_ms",
        "fail_next",
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, data_dir: str | Path | None = None) -> SimulatorConfig:
        """Build the configuration from ``env`` (default: ``os.environ``).

        ``data_dir`` (the ``--data-dir`` command-line option) wins over the environment.
        Invalid values fail loudly at start-up rather than being silently replaced.
        """
        env = os.environ if env is None else env
        error_body = env.get("SIMULATOR_ERROR_BODY", "").strip().lower() or "json"
        if error_body not in ("json", "html"):
            raise ValueError(f"SIMULATOR_ERROR_BODY must be json or html, got {error_body!r}")
        rate_limit_raw = env.get("SIMULATOR_RATE_LIMIT", "").strip()
        bad_body = env.get("SIMULATOR_BAD_BODY", "").strip().lower() or None
        if bad_body not in (None, "json", "html"):
            raise ValueError(f"SIMULATOR_BAD_BODY must be empty, json or html, got {bad_body!r}")
        api_keys = _split_keys(env.get("SIMULATOR_API_KEYS")) or (DEFAULT_API_KEY,)
        return cls(
            api_keys=api_keys,
            readonly_keys=_split_keys(env.get("SIMULATOR_READONLY_KEYS")),
            data_dir=Path(data_dir or env.get("SIMULATOR_DATA_DIR", "").strip() or DEFAULT_DATA_DIR),
            job_seconds=_float(env, "SIMULATOR_JOB_SECONDS", 3.0, 0.0, None),
            fail_rate=_float(env, "SIMULATOR_FAIL_RATE", 0.0, 0.0, 1.0),
            latency_ms=_float(env, "SIMULATOR_LATENCY_MS", 0.0, 0.0, None),
            error_rate=_float(env, "SIMULATOR_ERROR_RATE", 0.0, 0.0, 1.0),
            error_body="html" if error_body == "html" else "json",
            rate_limit=RateLimit.parse(rate_limit_raw) if rate_limit_raw else None,
            bad_body="html" if bad_body == "html" else "json" if bad_body == "json" else None,
        )

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply already-validated runtime knob values atomically."""
        unknown = set(changes) - set(self.RUNTIME_KNOBS)
        if unknown:
            raise ValueError(f"not runtime knobs: {', '.join(sorted(unknown))}")
        with self._lock:
            for name, value in changes.items():
                setattr(self, name, value)

    def note_new_job(self, item_id: str) -> None:
        """Doom this job if `fail_next` asks for it (counting it down)."""
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                self._doomed.add(item_id)

    def take_forced_failure(self, item_id: str) -> bool:
        """Whether this job was doomed at creation by `fail_next`."""
        with self._lock:
            if item_id in self._doomed:
                self._doomed.discard(item_id)
                return True
            return False

    def runtime_snapshot(self) -> dict[str, Any]:
        """The runtime knobs as JSON-ready values (keys are deliberately never exposed)."""
        with self._lock:
            values = {name: getattr(self, name) for name in self.RUNTIME_KNOBS}
        values["rate_limit"] = str(values["rate_limit"]) if values["rate_limit"] else None
        return values
