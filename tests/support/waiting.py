"""Waiting for something that happens in another process (a job finishing, a log entry).

One helper instead of hand-written sleep-and-poll loops::

    item = wait_until(lambda: finished(item_id), timeout=10, message=f"job {item_id} never finished")

The timeout is a safety net against a hang, never a measurement: a test fails on it only
when the awaited thing did not happen at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

# Bound at import: a test that records time.sleep (record_sleeps) must not see our waits.
_sleep = time.sleep


def wait_until[T](
    condition: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.1,
    message: str | Callable[[], str],
) -> T:
    """Call `condition` until it returns something truthy and return that; fail the test
    with `message` (a string, or a callable for one worked out at the time) after `timeout`
    seconds. The condition is always tried at least once, and once more at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        last_try = time.monotonic() >= deadline
        value = condition()
        if value:
            return value
        if last_try:
            text = message() if callable(message) else message
            pytest.fail(f"{text} (waited {timeout:g} s)", pytrace=False)
        _sleep(max(0.0, min(interval, deadline - time.monotonic())))


def record_sleeps(monkeypatch: pytest.MonkeyPatch, *, really: bool = True) -> list[float]:
    """Replace time.sleep for the rest of the test; the returned list gets the seconds of
    every call, in order. With really=False nothing is slept (for stubbed HTTP).

    This is how a test says "the client waited out the Retry-After" or "nothing was slept
    through" without timing anything. Code that did `from time import sleep` is not seen."""
    calls: list[float] = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if really:
            _sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    return calls
