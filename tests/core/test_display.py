"""How durations read, and where a result's end time comes from."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from dashboard import genapi
from dashboard.core import display
from dashboard.index import services as index
from tests.support.index import indexed

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
    assert index.finished_at(item(finished_at="2026-03-03T14:05:12Z")) == START + timedelta(seconds=12)


@pytest.mark.parametrize("raw", ["soon", "2026-03-03T14:05:12", 17, None])
def test_an_unreadable_finished_at_is_no_end_time(raw):
    assert index.finished_at(item(finished_at=raw)) is None


def raw_item(status: str, **extra) -> dict:
    return {
        "id": "a" * 24,
        "status": status,
        "generation_type": "fashion_swap",
        "created_at": START.isoformat(),
        **extra,
    }


@pytest.mark.django_db
def test_a_results_end_is_the_upstreams_finished_at_as_the_index_records_it():
    (row,) = indexed(raw_item("complete", finished_at="2026-03-03T14:05:12Z"))
    assert row.finished_at == START + timedelta(seconds=12)
    assert display.duration(row.created_at, row.finished_at) == "12 s"


@pytest.mark.django_db
def test_without_one_a_results_end_is_when_the_sync_saw_it_finish():
    indexed(raw_item("pending"))
    before = timezone.now()
    (row,) = indexed(raw_item("complete", finished_at="soon"))
    assert before <= row.finished_at <= timezone.now()
