"""Bulk actions ask the upstream a few at a time, within one deadline (core/concurrency.py)."""

import threading

import pytest

from dashboard.core import concurrency


def test_every_key_gets_its_own_answer_in_the_order_asked(settings):
    settings.BULK_CONCURRENCY = 3
    answers = concurrency.each(lambda key: key * 2, [5, 1, 4, 2])
    assert list(answers.items()) == [(5, 10), (1, 2), (4, 8), (2, 4)]


def test_no_more_calls_than_the_limit_run_at_once(settings):
    settings.BULK_CONCURRENCY = 3
    lock, running, most = threading.Lock(), [0], [0]
    all_in = threading.Barrier(3, timeout=5)  # three must be able to run together

    def call(key):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        if key < 3:
            all_in.wait()
        with lock:
            running[0] -= 1
        return key

    assert list(concurrency.each(call, list(range(12))).values()) == list(range(12))
    assert most[0] == 3


def test_what_is_not_answered_by_the_deadline_is_late_and_nothing_waits_for_it(settings):
    settings.BULK_CONCURRENCY = 2
    settings.BULK_DEADLINE_SECONDS = 0.2
    release = threading.Event()

    def call(key):
        if key == "slow":
            release.wait(10)
        return key

    try:
        answers = concurrency.each(call, ["fast", "slow", "queued-1", "queued-2"])
    finally:
        release.set()
    assert answers["fast"] == "fast"
    assert answers["slow"] is concurrency.LATE
    # With one of two places held by the slow call, the rest ran in the other one.
    assert answers["queued-1"] == "queued-1" and answers["queued-2"] == "queued-2"


def test_a_call_that_breaks_is_not_swallowed(settings):
    def call(key):
        raise RuntimeError(f"bug with {key}")

    with pytest.raises(RuntimeError, match="bug with 1"):
        concurrency.each(call, [1])


def test_nothing_asked_starts_nothing():
    assert concurrency.each(lambda key: pytest.fail("called"), []) == {}
