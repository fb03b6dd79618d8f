"""The background worker's lines carry the task and the cell they are about; the sync's
lines carry the tick they belong to; an upstream call's line carries the same."""

import threading

import pytest
from django.core.management import call_command

from dashboard import genapi
from dashboard.core.slots import slots_for
from dashboard.index import sync
from dashboard.runs import services as runs
from tests.support.library import library_image

pytestmark = pytest.mark.django_db(transaction=True)

API = "http://genapi.test"
FASHION_SWAP = genapi.Tool(name="fashion_swap", title="Fashion Swap", group="fashion")


def test_a_workers_lines_for_a_cell_carry_its_task_id_and_cell(ada, rsps, log_lines):
    rsps.post(
        f"{API}/generation/generate_image_v2/",
        json={"history_item_id": "a1b2c3d4e5f6a1b2c3d4e5f6", "preview_image": "image/p.webp"},
    )
    garment = library_image(ada, "clothes", "dress")

    run = runs.start_run(ada, tool=FASHION_SWAP, style=None, rows=(slots_for("fashion_swap", "fashion")[0], [garment]))
    [cell] = run.cells.all()

    call_command("db_worker", batch=True, no_startup_delay=True, worker_id="test-worker", verbosity=0)

    [upstream_line] = [line for line in log_lines() if line["logger"] == "dashboard.genapi"]
    cell.refresh_from_db()
    assert cell.state == cell.State.SENT
    assert upstream_line["cell"] == cell.pk
    assert upstream_line["task_id"] == str(cell.task_id)


def test_a_sync_ticks_lines_share_a_tick_id_that_changes_each_tick(rsps, log_lines, settings):
    settings.SYNC_IDLE_SECONDS = 0.05
    rsps.get(f"{API}/user/generation-history", json={"page": 1, "pages": 1, "total_count": 0, "items": []})
    stop = threading.Event()
    sync_thread = threading.Thread(target=sync.run, args=(stop,), kwargs={"holder": "test-sync"})
    sync_thread.start()
    try:
        for _ in range(200):
            calls = [line for line in log_lines() if line["logger"] == "dashboard.genapi"]
            if len({line.get("tick") for line in calls}) >= 2:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        sync_thread.join(10)

    ticks = [line.get("tick") for line in calls]
    assert None not in ticks
    assert len(set(ticks)) >= 2
