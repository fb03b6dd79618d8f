"""Downloads as ZIPs (dashboard/downloads/services.py, dashboard/downloads/views.py) against
stubbed HTTP: file names, the manifest, which results a run's liked ZIP holds (a rating
cleared here included), the selection's cap, and what happens when the upstream fails
before or during the stream.

Which results exist, their statuses, likes and image paths come from the index (put in
it here as the sync process would, `indexed`); the upstream is asked for the images only."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
import requests
import responses
from django.contrib.messages import get_messages
from django.urls import reverse
from PIL import Image, PngImagePlugin

from dashboard import genapi
from dashboard.downloads import services as downloads
from dashboard.models import InputImage, Job, JobInput, Review, Run, RunCell, TrashedResult
from tests.support.index import indexed

pytestmark = pytest.mark.django_db

BASE = "http://genapi.test"
IMAGE_URL = f"{BASE}/image/generation_result/"


def png(seed: int, *, secret: str = "") -> bytes:
    """A small PNG of its own colour; `secret` goes in a text chunk (metadata)."""
    info = PngImagePlugin.PngInfo()
    if secret:
        info.add_text("Comment", secret)
    out = io.BytesIO()
    Image.new("RGB", (40, 50), (seed * 40 % 256, 90, 200)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def item_json(item_id: str, *, status: str = "complete", like: bool | None = None, tool: str = "fashion_swap") -> dict:
    return {
        "id": item_id,
        "generation_type": tool,
        "status": status,
        "created_at": "2026-11-30T10:15:00Z",
        "preview_url": f"/image/generation_result/{item_id}.webp",
        "stock_url": f"/image/generation_result/{item_id}.png" if status == "complete" else None,
        "like": like,
    }


@pytest.fixture
def rsps():
    """The upstream, stubbed: only what a test stubs answers (a download reads no
    catalogue, listing or record: those come from the index)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def upstream_has(rsps, item_id: str, *, image: bytes | None = None, **fields) -> None:
    """The upstream holds this result and the sync has indexed it; `image`: its stock image."""
    indexed(item_json(item_id, **fields))
    if image is not None:
        rsps.get(IMAGE_URL + f"{item_id}.png", body=image, content_type="image/png")


@pytest.fixture
def ada(ada, client):
    """Ada, logged into `client`."""
    client.force_login(ada)
    return ada


def library_image(owner, name: str, kind: str) -> InputImage:
    return InputImage.objects.create(
        owner=owner, file=f"inputs/{kind}.png", thumbnail=f"thumbnails/{kind}.webp", original_name=f"{name}.png",
        name=name, kind=kind, content_type="image/png", size=10, width=10, height=10,
    )  # fmt: skip


def job_of(
    designer, item_id: str, *, garment: InputImage, person: InputImage, status=Job.Status.COMPLETE, run=None
) -> Job:
    job = Job.objects.create(
        history_item_id=item_id, designer=designer, tool="fashion_swap", tool_title="Fashion Swap",
        style_title="Studio", status=status, run=run,
    )  # fmt: skip
    JobInput.objects.create(job=job, slot="clothes", label="Garment", image=garment, position=0)
    JobInput.objects.create(job=job, slot="person", label="Model photo", image=person, position=1)
    return job


@pytest.fixture
def run_of_three(ada):
    """A run of one garment on three models; its jobs' ids are item1..item3."""
    garment = library_image(ada, "Red dress", "clothes")
    models = [library_image(ada, name, "person") for name in ("Anna", "Béa", "Chloé")]
    run = Run.objects.create(
        designer=ada,
        designer_name="ada",
        tool="fashion_swap",
        row_slot="clothes",
        row_label="Garment",
        column_slot="person",
        column_label="Model photo",
    )
    for column, person in enumerate(models):
        job = job_of(ada, f"item{column + 1}", garment=garment, person=person, run=run)
        RunCell.objects.create(
            run=run, row=0, column=column, row_image=garment, column_image=person, state=RunCell.State.SENT, job=job
        )
    return run


def archive(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.content[:500]
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def manifest_rows(zipped: zipfile.ZipFile) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(zipped.read("manifest.csv").decode("utf-8-sig"))))


# --- File names and the manifest ------------------------------------------------------


def entry(item_id="abc123", *, tool="fashion_swap", inputs=(), **fields) -> downloads.Entry:
    defaults = {"item": None, "job": None, "tool_title": "Fashion Swap", "style_title": "", "like": None}
    return downloads.Entry(item_id=item_id, tool=tool, inputs=list(inputs), **{**defaults, **fields})


def test_a_file_name_tells_the_tool_the_inputs_and_the_id():
    made_here = entry(inputs=[("Garment", "Red Dress"), ("Model photo", "Anna")])
    assert downloads.file_name(made_here, ".png", set()) == "fashion-swap__red-dress__anna__abc123.png"


def test_names_are_slugs_accents_and_punctuation_go_and_long_ones_are_cut():
    named = entry(inputs=[("Garment", "Robe d'été / N°5 ../../etc"), ("Model photo", "x" * 300)])
    name = downloads.file_name(named, ".jpg", set())
    assert name == f"fashion-swap__robe-dete-n5-etc__{'x' * downloads.NAME_PART_CHARS}__abc123.jpg"
    assert "/" not in name and ".." not in name


def test_a_result_not_made_here_is_named_by_its_tool_and_id():
    assert downloads.file_name(entry(tool="furniture"), ".png", set()) == "furniture__abc123.png"
    assert downloads.file_name(entry(tool=""), ".png", set()) == "result__abc123.png"


def test_names_are_unique_within_the_archive():
    taken: set[str] = set()
    names = [downloads.file_name(entry(), ".png", taken) for _ in range(3)]
    assert names == ["fashion-swap__abc123.png", "fashion-swap__abc123-2.png", "fashion-swap__abc123-3.png"]


def test_the_manifest_has_a_row_per_result_and_a_column_per_input():
    plan = downloads.Plan(
        archive_name="x.zip",
        empty_message="",
        entries=[
            entry("a1", inputs=[("Garment", "Red dress"), ("Model photo", "Anna")], like=True, file_name="a.png"),
            entry(
                "c3",
                like=False,
                reasons="Wrong fit or length, Colour off",
                note="Sleeves too long; try the petite model",
                file_name="c.png",
            ),
            entry(
                "b2",
                tool="furniture",
                tool_title="Furniture",
                inputs=[("Room", "=HYPERLINK(1)")],
                missing="deleted upstream",
            ),
        ],
    )
    rows = list(csv.reader(io.StringIO(downloads.manifest(plan).decode("utf-8-sig"))))
    assert rows[0] == [
        "file",
        "result id",
        "tool",
        "style",
        "input: Garment",
        "input: Model photo",
        "input: Room",
        "status",
        "liked",
        "dislike reasons",
        "note",
        "made by",
        "created at",
    ]
    assert rows[1][:7] == ["a.png", "a1", "Fashion Swap", "", "Red dress", "Anna", ""]
    assert rows[1][8] == "liked"
    # What is not in the archive says why; a name a spreadsheet would run is kept as text.
    # A disliked result carries its reasons and note: the archive can be reviewed on its own.
    assert rows[2][8:11] == ["disliked", "Wrong fit or length, Colour off", "Sleeves too long; try the petite model"]
    assert rows[3][:7] == ["missing: deleted upstream", "b2", "Furniture", "", "", "", "'=HYPERLINK(1)"]
    assert rows[3][7] == "Deleted"


# --- Which results: a run's, liked, a selection ---------------------------------------


def test_a_runs_liked_zip_holds_only_what_the_team_likes_a_cleared_rating_is_not_a_like(client, rsps, run_of_three):
    upstream_has(rsps, "item1", like=True, image=png(1))
    upstream_has(rsps, "item2", like=True, image=png(2))  # liked upstream, cleared here
    upstream_has(rsps, "item3", like=False, image=png(3))
    Review.objects.create(history_item_id="item2", cleared=True, like_when_cleared=True)

    response = client.get(reverse("run_download", args=[run_of_three.pk]), {"liked": "1"})

    zipped = archive(response)
    assert zipped.namelist() == ["fashion-swap__red-dress__anna__item1.png", "manifest.csv"]
    assert response["Content-Disposition"] == f'attachment; filename="run-{run_of_three.pk}-liked.zip"'
    (row,) = manifest_rows(zipped)
    assert row["liked"] == "liked" and row["made by"] == "ada" and row["input: Model photo"] == "Anna"


def test_a_whole_run_holds_every_finished_cell_but_not_failed_running_or_trashed_ones(client, rsps, run_of_three, ada):
    upstream_has(rsps, "item1", image=png(1))
    upstream_has(rsps, "item2", image=png(2))
    upstream_has(rsps, "item3", status="error")
    garment = InputImage.objects.get(name="Red dress")
    running = job_of(ada, "item4", garment=garment, person=garment, status=Job.Status.PENDING, run=run_of_three)
    RunCell.objects.create(run=run_of_three, row=1, column=0, row_image=garment, column_image=garment, job=running)
    upstream_has(rsps, "item4", status="pending")
    trashed = job_of(ada, "item5", garment=garment, person=garment, run=run_of_three)
    RunCell.objects.create(run=run_of_three, row=1, column=1, row_image=garment, column_image=garment, job=trashed)
    upstream_has(rsps, "item5", image=png(5))
    TrashedResult.objects.create(history_item_id="item5", trashed_by_name="ada", trashed_at="2026-12-01T10:00:00Z")

    zipped = archive(client.get(reverse("run_download", args=[run_of_three.pk])))

    # The index says which results there are: the upstream is asked for the two images only.
    assert [call.request.url for call in rsps.calls] == [IMAGE_URL + "item1.png", IMAGE_URL + "item2.png"]
    assert zipped.namelist() == [
        "fashion-swap__red-dress__anna__item1.png",
        "fashion-swap__red-dress__bea__item2.png",
        "manifest.csv",
    ]
    assert zipped.read("fashion-swap__red-dress__bea__item2.png") == png(2)
    assert all(info.compress_type == zipfile.ZIP_STORED for info in zipped.infolist() if info.filename.endswith(".png"))


def test_nothing_liked_is_said_and_no_empty_zip_is_sent(client, rsps, run_of_three):
    for number in (1, 2, 3):
        upstream_has(rsps, f"item{number}", like=False)

    response = client.get(reverse("run_download", args=[run_of_three.pk]), {"liked": "1", "next": "/history/"})

    assert response.status_code == 409
    assert response["Content-Type"].startswith("text/html")
    assert "None of this run&#x27;s results is liked yet" in response.content.decode()
    assert 'href="/history/"' in response.content.decode()


def test_an_unknown_run_is_a_404(client, ada):
    assert client.get(reverse("run_download", args=[987654])).status_code == 404


def test_metadata_is_stripped_from_every_image(client, rsps, run_of_three):
    upstream_has(rsps, "item1", image=png(1, secret="Bearer test-api-key"))
    upstream_has(rsps, "item2", status="error")
    upstream_has(rsps, "item3", status="error")

    zipped = archive(client.get(reverse("run_download", args=[run_of_three.pk])))

    member = zipped.read("fashion-swap__red-dress__anna__item1.png")
    assert b"test-api-key" not in member and b"tEXt" not in member
    assert Image.open(io.BytesIO(member)).tobytes() == Image.open(io.BytesIO(png(1))).tobytes()


def test_the_selection_keeps_the_order_chosen_and_lists_what_has_no_image(client, rsps, ada):
    upstream_has(rsps, "zz9", image=png(9), tool="furniture")
    upstream_has(rsps, "aa1", image=png(1))
    upstream_has(rsps, "run1", status="pending")
    # gone1 is not in the index: the sync found it deleted upstream and forgot it.

    response = client.post(reverse("history_download"), {"ids": ["zz9", "run1", "aa1", "gone1", "zz9"]})

    zipped = archive(response)
    assert zipped.namelist() == ["furniture__zz9.png", "fashion-swap__aa1.png", "manifest.csv"]
    assert [(row["result id"], row["file"]) for row in manifest_rows(zipped)] == [
        ("zz9", "furniture__zz9.png"),
        ("run1", "missing: still running"),
        ("aa1", "fashion-swap__aa1.png"),
        ("gone1", "missing: deleted upstream"),
    ]
    assert response["Content-Disposition"].startswith('attachment; filename="selection-20')
    assert response["Cache-Control"] == "private, no-store"


def test_a_selection_over_the_cap_is_refused_whole_with_a_message(client, rsps, ada):
    ids = [f"id{number}" for number in range(downloads.MAX_SELECTION + 1)]

    response = client.post(reverse("history_download") + "?rating=liked", {"ids": ids})

    assert response.status_code == 303 and response["Location"] == "/history/?rating=liked"
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert f"at most {downloads.MAX_SELECTION} results; {downloads.MAX_SELECTION + 1} are selected" in message
    assert not [call for call in rsps.calls if "generation-history" in call.request.url]


def test_a_selection_at_the_cap_is_accepted():
    ids = [f"id{number}" for number in range(downloads.MAX_SELECTION)] + ["id0"]
    assert downloads.check_selection(ids) == ids[:-1]


@pytest.mark.parametrize("hostile", ["../x", "a/b", "", "é", "a" * 200, "?q=1"])
def test_a_hostile_id_refuses_the_selection_before_any_upstream_call(client, rsps, ada, hostile):
    response = client.post(reverse("history_download"), {"ids": ["abc", hostile]})

    assert response.status_code == 303
    assert "not a result" in " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert not [call for call in rsps.calls if "generation-history" in call.request.url]


# --- Failures before and during the stream ---------------------------------------------


def test_an_upstream_down_before_the_first_byte_gives_a_message_not_a_zip(client, rsps, run_of_three):
    for number in (1, 2, 3):
        upstream_has(rsps, f"item{number}")
    rsps.get(IMAGE_URL + "item1.png", body=requests.ConnectionError("refused"))

    response = client.get(reverse("run_download", args=[run_of_three.pk]))

    assert response.status_code == 503
    assert not response.streaming
    assert "The download could not start: The generation service cannot be reached" in response.content.decode()


def test_an_upstream_failing_before_the_first_byte_of_a_selection_sends_the_gallery_a_message(client, rsps, ada):
    upstream_has(rsps, "abc")
    rsps.get(IMAGE_URL + "abc.png", status=500)

    response = client.post(reverse("history_download") + "?rating=liked", {"ids": ["abc"]})

    assert response.status_code == 303 and response["Location"] == "/history/?rating=liked"
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert message == f"The download could not start: {genapi.UpstreamError.default_message}"


def test_the_first_result_deleted_is_skipped_and_listed(client, rsps, run_of_three):
    upstream_has(rsps, "item1")
    rsps.get(IMAGE_URL + "item1.png", status=404, json={"detail": "Image not found"})
    upstream_has(rsps, "item2", image=png(2))
    upstream_has(rsps, "item3", status="error")

    zipped = archive(client.get(reverse("run_download", args=[run_of_three.pk])))

    assert zipped.namelist() == ["fashion-swap__red-dress__bea__item2.png", "manifest.csv"]
    assert [row["file"] for row in manifest_rows(zipped)] == ["missing: deleted upstream", zipped.namelist()[0]]


def test_an_image_failing_mid_stream_is_listed_missing_and_the_rest_still_come(client, rsps, run_of_three):
    upstream_has(rsps, "item1", image=png(1))
    upstream_has(rsps, "item2")
    rsps.get(IMAGE_URL + "item2.png", status=503)
    upstream_has(rsps, "item3")
    rsps.get(IMAGE_URL + "item3.png", body=b"<html>not an image</html>", content_type="image/png")

    zipped = archive(client.get(reverse("run_download", args=[run_of_three.pk])))

    assert zipped.namelist() == ["fashion-swap__red-dress__anna__item1.png", "manifest.csv"]
    assert [row["file"] for row in manifest_rows(zipped)] == [
        "fashion-swap__red-dress__anna__item1.png",
        f"missing: {genapi.UpstreamError.default_message}",
        f"missing: {downloads.NOT_AN_IMAGE}",
    ]


def test_a_zip_is_never_gzipped_and_is_not_cached(client, rsps, run_of_three):
    upstream_has(rsps, "item1", image=png(1))
    upstream_has(rsps, "item2", status="error")
    upstream_has(rsps, "item3", status="error")

    response = client.get(reverse("run_download", args=[run_of_three.pk]), headers={"Accept-Encoding": "gzip"})

    assert response.streaming and response["Content-Type"] == "application/zip"
    assert "Content-Encoding" not in response
    assert response["Cache-Control"] == "private, no-store"
    archive(response)


def test_the_open_image_is_let_go_when_the_browser_leaves_mid_stream(client, rsps, run_of_three, monkeypatch):
    upstream_has(rsps, "item1", image=png(1))
    upstream_has(rsps, "item2", image=png(2))
    upstream_has(rsps, "item3", image=png(3))
    opened: list[genapi.ResultFile] = []
    real_open = genapi.open_result
    monkeypatch.setattr(
        genapi, "open_result", lambda found, **options: opened.append(real_open(found, **options)) or opened[-1]
    )

    response = client.get(reverse("run_download", args=[run_of_three.pk]))
    next(iter(response.streaming_content))
    response.close()

    assert opened and all(result._file.closed for result in opened)


def test_a_first_image_over_the_size_cap_is_skipped_and_listed_not_fatal(client, rsps, run_of_three, monkeypatch):
    from dashboard.genapi import transport

    monkeypatch.setattr(transport, "MAX_IMAGE_BYTES", 64 * 1024)
    upstream_has(rsps, "item1", image=b"\x89PNG" + b"\0" * 70_000)
    upstream_has(rsps, "item2", image=png(2))
    upstream_has(rsps, "item3", status="error")

    zipped = archive(client.get(reverse("run_download", args=[run_of_three.pk])))

    assert zipped.namelist() == ["fashion-swap__red-dress__bea__item2.png", "manifest.csv"]
    assert manifest_rows(zipped)[0]["file"] == f"missing: {downloads.TOO_LARGE}"


def test_every_images_temporary_file_is_closed_and_so_removed_once_archived(client, rsps, run_of_three, monkeypatch):
    upstream_has(rsps, "item1", image=png(1))
    upstream_has(rsps, "item2", image=png(2))
    upstream_has(rsps, "item3", image=png(3))
    files = []
    real = genapi.open_result

    def spy(found, **options):
        opened = real(found, **options)
        files.append(opened._file)
        return opened

    monkeypatch.setattr(genapi, "open_result", spy)

    archive(client.get(reverse("run_download", args=[run_of_three.pk])))

    assert len(files) == 3
    assert all(handle.closed for handle in files)
