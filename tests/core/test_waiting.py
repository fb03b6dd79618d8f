"""tests.support.waiting.wait_until: what the integration tests rely on to wait."""

from __future__ import annotations

import pytest

from tests.support.waiting import wait_until


def test_returns_the_first_truthy_value_of_the_condition() -> None:
    answers = iter([None, 0, "", {"status": "complete"}, {"status": "later"}])

    found = wait_until(lambda: next(answers), timeout=5, interval=0, message="never")

    assert found == {"status": "complete"}
    assert next(answers) == {"status": "later"}  # it stopped asking once it had an answer


def test_fails_the_test_with_the_message_when_the_condition_never_holds() -> None:
    tries = []

    with pytest.raises(pytest.fail.Exception, match=r"job abc still pending \(waited 0.05 s\)"):
        wait_until(lambda: tries.append(1), timeout=0.05, interval=0.01, message="job abc still pending")

    assert len(tries) >= 2  # tried, waited, and tried again at the deadline


def test_a_callable_message_is_worked_out_when_the_wait_fails() -> None:
    state = {"status": "pending"}

    def check() -> None:
        state["status"] = "still running"

    with pytest.raises(pytest.fail.Exception, match="last seen: still running"):
        wait_until(check, timeout=0, message=lambda: f"last seen: {state['status']}")


def test_record_sleeps_sees_every_sleep_and_can_skip_them(monkeypatch) -> None:
    import time

    from tests.support.waiting import record_sleeps

    sleeps = record_sleeps(monkeypatch, really=False)
    time.sleep(120)
    time.sleep(0)

    assert sleeps == [120, 0]  # recorded, and the 120 s were not slept (the test would hang)
    wait_until(lambda: True, timeout=1, message="never")
    assert sleeps == [120, 0]  # wait_until's own pauses are not the code under test's
