"""How durations read, and where a result's end time comes from."""

from datetime import UTC, datetime, timedelta

import pytest

from dashboard import genapi
from dashboard.core import display
from dashboard.gallery import history

START = datetime(2026, 3, 3, 14, 5, tzinfo=UTC)


@pytest.mark.parametrize(("seconds", "reads"), [(0, "0 s"), (12.4, "12 s"), (185, "3 min 5 s"), (3840, "1 h 4 min")])
def test_a_duration_reads_like_the_running_timer(seconds, reads):
    assert display.duration(START, START + timedelta(seconds=seconds)) == reads


def test_a_duration_with_an_unknown_end_is_not_shown():
    assert display.duration(START, None) == "" and display.duration(None, START) == ""


def item(**extra) -> genapi.HistoryItem:
    return genapi.HistoryItem(
        id="a1",
        status=genapi.Status.COMPLETE,
        raw_status="complete",
        tool="fashion_swap",
        style_id=None,
        created_at=START,
        preview_path=None,
        stock_path=None,
        like=None,
        error_message=None,
        extra=extra,
    )


def test_the_upstreams_finished_at_is_read_when_it_is_a_time_with_a_zone():
    assert history.finished_at(item(finished_at="2026-03-03T14:05:12Z"), None) == START + timedelta(seconds=12)


@pytest.mark.parametrize("raw", ["soon", "2026-03-03T14:05:12", 17, None])
def test_an_unreadable_finished_at_is_no_end_time(raw):
    assert history.finished_at(item(finished_at=raw), None) is None
