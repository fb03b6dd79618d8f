"""A ZIP of 30 results of 1.2 to 1.7 MB each is streamed in a fresh process whose peak
resident memory (VmHWM) rises by a small part of the archive's size; the same archive
joined in memory, the control, raises it by more than the whole archive (so the check
can fail). The images are the simulator's own results, replaced by noise PNGs that do
not compress."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.corpus import noisy_png
from tests.support.simulator import SimulatorProcess

pytestmark = pytest.mark.integration
MB = 1024 * 1024
RESULTS = 30

# Only the archive is measured: the plan (30 records, read first) and a warm-up read
# (imports, the connection pool) come before the peak is taken.
STREAM_SCRIPT = """
import os, sys
import django

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
django.setup()
from django.conf import settings

base_url, api_key, how, ids = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
settings.GENAPI_BASE_URL, settings.GENAPI_API_KEY = base_url, api_key
from dashboard import genapi
from dashboard.downloads import services as downloads


def peak_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


api = genapi.client()
entries = [
    downloads.Entry(item_id=i, item=api.history_item(i), job=None, tool="fashion_swap", tool_title="", style_title="", like=None)
    for i in ids
]
plan = downloads.Plan(archive_name="run.zip", entries=entries, empty_message="")
with genapi.open_result(entries[0].item):
    pass
before = peak_kib()
download = downloads.prepare(plan)
if how == "stream":  # as the server does: each piece goes to the socket and is let go
    size = sum(len(piece) for piece in download)
else:  # the control: the whole archive built in memory
    size = len(b"".join(download))
download.close()
print(size, (peak_kib() - before) * 1024)
"""


@pytest.fixture(scope="module")
def big_results(tmp_path_factory) -> tuple[SimulatorProcess, list[str]]:
    with SimulatorProcess(tmp_path_factory.mktemp("download-memory-sim")) as sim:
        sim.seed(RESULTS + 12)
        listing = requests.get(
            f"{sim.base_url}/user/generation-history",
            params={"status": "complete", "limit": 100},
            headers=sim.headers,
            timeout=10,
        ).json()
        ids = [item["id"] for item in listing["items"]][:RESULTS]
        assert len(ids) == RESULTS
        for number, item_id in enumerate(ids):
            side = 700 + 3 * number  # 1.2 to 1.7 MB each, each its own
            (sim.data_dir / "images" / "generation_result" / f"{item_id}.png").write_bytes(noisy_png((side, side)))
        yield sim, ids


def archive_memory(sim: SimulatorProcess, ids: list[str], how: str) -> tuple[int, int]:
    """(archive bytes, peak RSS rise in bytes) of a fresh process making the archive."""
    done = subprocess.run(
        [sys.executable, "-c", STREAM_SCRIPT, sim.base_url, sim.api_key, how, ",".join(ids)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    size, rise = (int(number) for number in done.stdout.split()[-2:])
    return size, rise


def test_streaming_a_40_mb_zip_keeps_memory_far_below_its_size(big_results):
    sim, ids = big_results

    streamed_size, streamed_rise = archive_memory(sim, ids, "stream")
    buffered_size, buffered_rise = archive_memory(sim, ids, "buffer")

    assert streamed_size == buffered_size > RESULTS * 1.2 * MB
    assert buffered_rise > buffered_size  # the control: the check sees a whole archive in memory
    assert streamed_rise < 8 * MB, f"streaming raised peak memory by {streamed_rise / MB:.1f} MB"
