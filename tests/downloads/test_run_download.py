"""A run made end to end (runs.start_run, a real `db_worker`, the simulator) downloads as
a ZIP: every cell's result named by the garment and the model it was made from, and the
liked ZIP only the one the team liked. The sync process runs meanwhile (`syncing`): the
index learns by itself that the jobs finished, and the download reads the index."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
import requests
from django.urls import reverse

from dashboard import genapi
from dashboard.core.slots import slots_for
from dashboard.models import IndexedResult, RunCell
from dashboard.runs import services as runs
from tests.support.library import library_image
from tests.support.waiting import wait_until
from tests.support.worker import WorkerProcess

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FASHION_SWAP = genapi.Tool(name="fashion_swap", title="Fashion Swap", group="fashion")
GARMENT, MODEL = slots_for("fashion_swap", "fashion")


def test_a_run_sent_by_the_worker_downloads_whole_and_liked(
    settings, simulator, on_simulator, syncing, designer, client
):
    garments = [library_image(designer, "clothes", name) for name in ("Red dress", "Linen shirt")]
    models = [library_image(designer, "person", name) for name in ("Anna", "Zoé")]
    run = runs.start_run(designer, tool=FASHION_SWAP, style=None, rows=(GARMENT, garments), columns=(MODEL, models))
    with WorkerProcess(settings, sends_per_minute=600):
        wait_until(
            lambda: not run.cells.exclude(state=RunCell.State.SENT).exists(), timeout=60, message="every cell sent"
        )
    cells = list(run.cells.select_related("job").order_by("row", "column"))
    ids = [cell.job.history_item_id for cell in cells]
    finished = IndexedResult.objects.filter(history_item_id__in=ids, status=genapi.Status.COMPLETE)
    wait_until(lambda: finished.count() == len(ids), timeout=30, message="the sync saw every job finish")

    whole = client.get(reverse("run_download", args=[run.pk]))
    assert whole.status_code == 200
    zipped = zipfile.ZipFile(io.BytesIO(b"".join(whole.streaming_content)))
    expected = [
        f"fashion-swap__{garment}__{model}__{item_id}.png"
        for (garment, model), item_id in zip(
            [("red-dress", "anna"), ("red-dress", "zoe"), ("linen-shirt", "anna"), ("linen-shirt", "zoe")],
            ids,
            strict=True,
        )
    ]
    assert zipped.namelist() == [*expected, "manifest.csv"]
    for name, item_id in zip(expected, ids, strict=True):
        stock = requests.get(
            f"{simulator.base_url}/image/generation_result/{item_id}.png", headers=simulator.headers, timeout=10
        )
        assert zipped.read(name) == stock.content

    assert client.post(reverse("feedback", args=[ids[2]]), {"like": "true"}).status_code == 303
    liked = client.get(reverse("run_download", args=[run.pk]), {"liked": "1"})
    zipped = zipfile.ZipFile(io.BytesIO(b"".join(liked.streaming_content)))
    assert zipped.namelist() == [expected[2], "manifest.csv"]
    (row,) = csv.DictReader(io.StringIO(zipped.read("manifest.csv").decode("utf-8-sig")))
    assert (row["input: Garment"], row["input: Model photo"], row["liked"]) == ("Linen shirt", "Anna", "liked")
