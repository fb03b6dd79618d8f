"""ZIP downloads against the real simulator: a run's results, the liked ones, a gallery
selection, a result deleted upstream meanwhile, and an upstream failing before the
first byte. Each member is compared byte for byte with the simulator's stock image.

The run's rows (Run, RunCell, Job, JobInput) are written here directly; the jobs are
real, created on the simulator through genapi. The sync then reads the simulator
(`catch_up`), as the sync process would have: a download takes the results and their
image paths from the index, and only the images from the simulator.
"""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
import requests
from django.urls import reverse
from PIL import Image

from dashboard import genapi
from dashboard.models import InputImage, Job, JobInput, Run, RunCell
from tests.support.corpus import encode, garment_photo, person_photo
from tests.support.index import catch_up
from tests.support.simulator import SimulatorProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GARMENTS = ["Red dress", "Blue shirt"]
MODELS = ["Anna", "Béa"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with SimulatorProcess(tmp_path_factory.mktemp("downloads-sim"), env={"SIMULATOR_JOB_SECONDS": "0.3"}) as process:
        yield process


@pytest.fixture
def upstream(sim, settings):
    settings.GENAPI_BASE_URL = sim.base_url
    settings.GENAPI_API_KEY = sim.api_key
    yield sim
    sim.configure(error_rate=0.0)


def send_jobs(process: SimulatorProcess, count: int) -> list[str]:
    """`count` fashion_swap jobs made on the simulator, waited for until they finish."""
    api = genapi.GenApiClient(process.base_url, process.api_key)
    ids = []
    for number in range(count):
        garment = garment_photo(size=(300 + 20 * number, 340))
        person = person_photo(size=(360, 480 + 20 * number))
        files = [
            genapi.UploadFile("clothes", "garment.png", io.BytesIO(garment), "image/png"),
            genapi.UploadFile("person", "model.jpg", io.BytesIO(person), "image/jpeg"),
        ]
        ids.append(api.create_job("fashion_swap", files).history_item_id)
    wait_until(
        lambda: all(api.history_item(item_id).is_complete for item_id in ids),
        timeout=30,
        message="the simulator's jobs did not finish",
    )
    return ids


@pytest.fixture(scope="module")
def upstream_jobs(sim) -> list[str]:
    """Four finished results (2 garments × 2 models), shared by the module's tests
    (none deletes them)."""
    return send_jobs(sim, 4)


def stock_image(process: SimulatorProcess, item_id: str) -> bytes:
    response = requests.get(
        f"{process.base_url}/image/generation_result/{item_id}.png", headers=process.headers, timeout=10
    )
    response.raise_for_status()
    return response.content


@pytest.fixture
def ada(ada, client):
    """Ada, logged into `client`."""
    client.force_login(ada)
    return ada


def library_image(owner, name: str, kind: str) -> InputImage:
    return InputImage.objects.create(
        owner=owner, file=f"inputs/{name}.png", thumbnail=f"thumbnails/{name}.webp", original_name=f"{name}.png",
        name=name, kind=kind, content_type="image/png", size=10, width=10, height=10, in_library=True,
    )  # fmt: skip


def make_run(designer, item_ids: list[str]) -> Run:
    """A 2 × 2 run whose cells' jobs are `item_ids`, row by row."""
    run = Run.objects.create(
        designer=designer, designer_name=designer.get_username(), tool="fashion_swap", tool_title="Fashion Swap",
        row_slot="clothes", row_label="Garment", column_slot="person", column_label="Model photo",
    )  # fmt: skip
    garments = [library_image(designer, name, "clothes") for name in GARMENTS]
    models = [library_image(designer, name, "person") for name in MODELS]
    for index, item_id in enumerate(item_ids):
        row, column = divmod(index, 2)
        job = Job.objects.create(
            history_item_id=item_id, designer=designer, tool="fashion_swap", tool_title="Fashion Swap", run=run,
            status=Job.Status.COMPLETE,
        )  # fmt: skip
        JobInput.objects.create(job=job, slot="clothes", label="Garment", image=garments[row], position=0)
        JobInput.objects.create(job=job, slot="person", label="Model photo", image=models[column], position=1)
        RunCell.objects.create(
            run=run, row=row, column=column, row_image=garments[row], column_image=models[column],
            state=RunCell.State.SENT, job=job,
        )  # fmt: skip
    return run


def expected_name(index: int, item_id: str) -> str:
    garment = ["red-dress", "blue-shirt"][index // 2]
    model = ["anna", "bea"][index % 2]
    return f"fashion-swap__{garment}__{model}__{item_id}.png"


def archive(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def manifest(zipped: zipfile.ZipFile) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(zipped.read("manifest.csv").decode("utf-8-sig"))))


def test_a_runs_zip_holds_every_result_as_the_simulators_png(client, upstream, upstream_jobs, ada):
    run = make_run(ada, upstream_jobs)
    catch_up()

    response = client.get(reverse("run_download", args=[run.pk]))

    zipped = archive(response)
    assert response["Content-Disposition"] == f'attachment; filename="run-{run.pk}.zip"'
    names = [expected_name(index, item_id) for index, item_id in enumerate(upstream_jobs)]
    assert zipped.namelist() == [*names, "manifest.csv"]
    assert zipped.testzip() is None
    for name, item_id in zip(names, upstream_jobs, strict=True):
        member = zipped.read(name)
        assert member.startswith(PNG_SIGNATURE)
        assert member == stock_image(upstream, item_id)
    rows = manifest(zipped)
    assert [(row["file"], row["result id"], row["input: Garment"], row["input: Model photo"]) for row in rows] == [
        (names[0], upstream_jobs[0], "Red dress", "Anna"),
        (names[1], upstream_jobs[1], "Red dress", "Béa"),
        (names[2], upstream_jobs[2], "Blue shirt", "Anna"),
        (names[3], upstream_jobs[3], "Blue shirt", "Béa"),
    ]
    assert {(row["tool"], row["status"], row["made by"]) for row in rows} == {("Fashion Swap", "Done", "ada")}


def test_the_liked_zip_holds_what_the_team_liked_not_a_rating_cleared_here(client, upstream, upstream_jobs, ada):
    run = make_run(ada, upstream_jobs)
    catch_up()
    first, second, third, fourth = upstream_jobs
    for item_id in (first, second, third):
        assert client.post(reverse("feedback", args=[item_id]), {"like": "true"}).status_code == 303
    client.post(reverse("feedback", args=[second]), {"like": "true"})  # pressed again: cleared
    client.post(reverse("feedback", args=[fourth]), {"like": "false"})

    try:
        zipped = archive(client.get(reverse("run_download", args=[run.pk]), {"liked": "1"}))
    finally:
        for item_id in upstream_jobs:  # the upstream is the module's: leave it unrated
            genapi.client().set_feedback(item_id, False)

    assert zipped.namelist() == [expected_name(0, first), expected_name(2, third), "manifest.csv"]
    assert zipped.read(expected_name(2, third)) == stock_image(upstream, third)
    assert [row["liked"] for row in manifest(zipped)] == ["liked", "liked"]


def test_a_gallery_selection_downloads_the_chosen_results(client, upstream, upstream_jobs, ada):
    catch_up()
    chosen = [upstream_jobs[3], upstream_jobs[1]]

    response = client.post(reverse("history_download"), {"ids": chosen})

    zipped = archive(response)
    assert response["Content-Disposition"].startswith('attachment; filename="selection-')
    # Not made here (no Job rows in this test): named by tool and id.
    assert zipped.namelist() == [f"fashion-swap__{chosen[0]}.png", f"fashion-swap__{chosen[1]}.png", "manifest.csv"]
    for item_id in chosen:
        assert zipped.read(f"fashion-swap__{item_id}.png") == stock_image(upstream, item_id)


def test_a_result_deleted_upstream_meanwhile_is_listed_missing(client, upstream, ada):
    item_ids = send_jobs(upstream, 3)
    run = make_run(ada, item_ids)
    catch_up()  # the index holds them: the gallery has shown them
    # Deleted by someone working on the upstream directly, before the sync noticed.
    requests.delete(f"{upstream.base_url}/user/generation-history/{item_ids[1]}", headers=upstream.headers, timeout=5)

    zipped = archive(client.get(reverse("run_download", args=[run.pk])))

    assert zipped.namelist() == [expected_name(0, item_ids[0]), expected_name(2, item_ids[2]), "manifest.csv"]
    assert [row["file"] for row in manifest(zipped)] == [
        expected_name(0, item_ids[0]),
        "missing: deleted upstream",
        expected_name(2, item_ids[2]),
    ]


def test_an_upstream_failing_before_the_first_byte_gives_a_page_not_a_zip(client, upstream, upstream_jobs, ada):
    run = make_run(ada, upstream_jobs)
    catch_up()
    upstream.configure(error_rate=1.0)

    response = client.get(reverse("run_download", args=[run.pk]))

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert "The download could not start" in response.content.decode()


def test_a_png_that_is_not_a_png_upstream_is_refused_and_listed(client, upstream, ada):
    item_ids = send_jobs(upstream, 2)
    run = make_run(ada, item_ids)
    catch_up()
    # The simulator serves whatever its result file holds.
    (upstream.data_dir / "images" / "generation_result" / f"{item_ids[1]}.png").write_bytes(b"<html>oops</html>")

    zipped = archive(client.get(reverse("run_download", args=[run.pk])))

    assert zipped.namelist() == [expected_name(0, item_ids[0]), "manifest.csv"]
    assert manifest(zipped)[1]["file"] == "missing: the generation service sent something that is not an image"


def test_the_zip_is_not_gzipped_by_the_dashboard(client, upstream, upstream_jobs, ada):
    run = make_run(ada, upstream_jobs)
    catch_up()

    response = client.get(reverse("run_download", args=[run.pk]), headers={"Accept-Encoding": "gzip, br"})

    assert "Content-Encoding" not in response
    assert response["Cache-Control"] == "private, no-store"
    assert len(archive(response).namelist()) == 5


def test_images_of_other_formats_keep_their_extension(client, upstream, ada):
    (item_id,) = send_jobs(upstream, 1)
    catch_up()
    photo = encode(Image.new("RGB", (64, 64), (10, 200, 30)), "WEBP")
    (upstream.data_dir / "images" / "generation_result" / f"{item_id}.png").write_bytes(photo)

    zipped = archive(client.post(reverse("history_download"), {"ids": [item_id]}))

    assert zipped.namelist() == [f"fashion-swap__{item_id}.webp", "manifest.csv"]


def test_an_archive_has_one_deadline_and_its_manifest_lists_what_it_left_out(
    client, upstream, upstream_jobs, ada, settings
):
    # Each image now takes the simulator 0.4 s (every call is slowed), the archive has 1 s:
    # two or three are read, the rest are listed as left out, and the archive still ends.
    settings.DOWNLOAD_DEADLINE_SECONDS = 1.0
    run = make_run(ada, upstream_jobs)
    catch_up()
    upstream.configure(latency_ms=400)
    try:
        zipped = archive(client.get(reverse("run_download", args=[run.pk])))
    finally:
        upstream.configure(latency_ms=0)

    rows = manifest(zipped)
    left_out = [row for row in rows if row["file"].startswith("missing: ")]
    images = [name for name in zipped.namelist() if name != "manifest.csv"]
    assert 1 <= len(images) < 4
    assert len(images) + len(left_out) == 4
    assert {row["file"] for row in left_out} == {"missing: the download reached its time limit (1 s) first"}
