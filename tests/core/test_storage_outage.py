"""The image store (S3, here moto's server over HTTP) stopped mid-test: no page answers
500, each says plainly what happened, nothing the designer entered is lost, and all works
again once the store is back. /healthz names the store."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from dashboard import genapi
from dashboard.core import storage
from dashboard.core.s3storage import S3MediaStorage
from dashboard.core.slots import slots_for
from dashboard.core.tokens import new as new_token
from dashboard.core.views import server_error
from dashboard.models import InputImage, Job, RunCell, SendPacer
from dashboard.runs import services as runs
from dashboard.settings import media_storage_settings
from tests.support.corpus import garment_photo, person_photo
from tests.support.library import library_image as stored_library_image
from tests.support.services import S3Server

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

NOT_SAVED = "The image store is not answering; your photo was not saved, try again in a moment."
NOT_SENT = "The image store is not answering, so the job was not sent"
HTMX = {"HX-Request": "true"}


class Store:
    """moto's S3 server with a bucket of this test's own, and a way to take it away."""

    def __init__(self, server: S3Server):
        self.server = server
        self.bucket = f"nextry-media-{uuid.uuid4().hex[:12]}"
        self.s3 = boto3.client(
            "s3",
            endpoint_url=server.endpoint_url,
            region_name=server.region,
            aws_access_key_id=server.access_key,
            aws_secret_access_key=server.secret_key,
        )
        self._create_bucket()

    def _create_bucket(self) -> None:
        self.s3.create_bucket(Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": self.server.region})

    def keys(self) -> list[str]:
        return sorted(obj["Key"] for obj in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", []))

    @contextmanager
    def stopped(self) -> Iterator[None]:
        """The S3 server's process stopped (connections refused), then started again on
        the same port with the same objects: moto keeps them only in memory, so they are
        put back, as a real store still has them when it answers again."""
        objects = {key: self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read() for key in self.keys()}
        self.server.stop()
        try:
            yield
        finally:
            self.server.start()
            self._create_bucket()
            for key, body in objects.items():
                self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    @contextmanager
    def hung(self) -> Iterator[None]:
        """The S3 server's process frozen (SIGSTOP): connections are accepted by the
        kernel and never answered, so each call waits its read timeout."""
        pid = self.server.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)


def use_store(settings, store: Store, **environ: str) -> None:
    """Django's media on this store (`environ`: more of the deployment's STORAGE_* variables)."""
    server = store.server
    settings.STORAGES = {
        **settings.STORAGES,
        "default": media_storage_settings(
            {
                "MEDIA_STORAGE": "s3",
                "AWS_STORAGE_BUCKET_NAME": store.bucket,
                "AWS_S3_ENDPOINT_URL": server.endpoint_url,
                "AWS_S3_REGION_NAME": server.region,
                "AWS_ACCESS_KEY_ID": server.access_key,
                "AWS_SECRET_ACCESS_KEY": server.secret_key,
                "AWS_LOCATION": "media",
                **environ,
            }
        ),
    }


@pytest.fixture
def store(settings):
    """Django's media on a moto server of this test's own (it is stopped by the test); the
    store is tried again at once after a failure, unless a test says otherwise."""
    settings.STORAGE_RETRY_SECONDS = 0
    with S3Server() as server:
        store = Store(server)
        use_store(settings, store)
        yield store


@pytest.fixture
def designer(designer, on_simulator, client):
    """Ada, logged into `client`, with Django on the real simulator; `client` answers as
    a browser would see it (a failure is its 500 page, not an exception in the test)."""
    client.raise_request_exception = False
    return designer


def png(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, "image/png")


def add_to_library(client, kind: str, *files):
    return client.post(reverse("library_add"), {"kind": kind, "images": list(files)}, headers=HTMX)


def library_image(client, kind: str = "person") -> InputImage:
    content = person_photo(fmt="PNG") if kind == "person" else garment_photo()
    response = add_to_library(client, kind, png(f"{kind}.png", content))
    assert response.status_code == 200
    return InputImage.objects.filter(kind=kind).latest("pk")


def kept_in_form(body: str, slot: str) -> int | None:
    """The stored photo the drawn form carries in this slot (its hidden `__kept` field)."""
    found = re.search(rf'name="{slot}__kept" value="(\d+)"', body)
    return int(found.group(1)) if found else None


def form_of_stored_photos(client):
    """A Generate form whose two photos are already in the store (kept library images)."""
    person, clothes = library_image(client, "person"), library_image(client, "clothes")
    form = {"tool": "fashion_swap", "submission": new_token(), "person__kept": person.pk, "clothes__kept": clothes.pk}
    return person, clothes, form


class TestTheLibraryWithTheStoreAway:
    def test_pages_and_images_answer_plainly_and_work_again_when_it_is_back(self, client, designer, store):
        person = library_image(client)
        thumbnail_url = reverse("input_image", args=[person.pk, "thumbnail"])
        file_url = reverse("input_image", args=[person.pk, "file"])

        with store.stopped():
            page = client.get(reverse("library"))
            assert page.status_code == 200 and person.display_name in page.content.decode()

            thumbnail = client.get(thumbnail_url)
            assert thumbnail.status_code == 503 and thumbnail["Content-Type"] == "image/png"
            assert thumbnail["Cache-Control"] == "no-store"  # the real one is shown once the store is back
            assert client.get(file_url).status_code == 503

            added = add_to_library(client, "clothes", png("linen-dress.png", garment_photo()))
            assert added.status_code == 200
            body = added.content.decode()
            assert "linen-dress.png" in body and NOT_SAVED in body
            assert not InputImage.objects.filter(kind="clothes").exists()

        thumbnail = client.get(thumbnail_url)
        assert thumbnail.status_code == 200 and b"".join(thumbnail.streaming_content)[8:12] == b"WEBP"
        assert add_to_library(client, "clothes", png("linen-dress.png", garment_photo())).status_code == 200
        assert InputImage.objects.filter(kind="clothes", original_name="linen-dress.png").exists()

    def test_after_it_could_not_be_reached_the_store_is_not_tried_for_a_while(
        self, client, designer, store, settings, monkeypatch
    ):
        settings.STORAGE_RETRY_SECONDS = 5
        now = [time.monotonic()]
        monkeypatch.setattr(storage, "clock", lambda: now[0])
        monkeypatch.setattr(storage, "_not_tried_before", 0.0)  # and as it was after the test
        thumbnail_url = reverse("input_image", args=[library_image(client).pk, "thumbnail"])
        with store.stopped():
            assert client.get(thumbnail_url).status_code == 503

        # Back, but within STORAGE_RETRY_SECONDS of the failure: not tried yet. /healthz
        # asks the store itself.
        now[0] += 4.9
        assert client.get(thumbnail_url).status_code == 503
        assert client.get(reverse("healthz")).json()["storage"] == "ok"
        now[0] += 0.2
        assert client.get(thumbnail_url).status_code == 200


class TestGenerateWithTheStoreAway:
    def test_a_photo_uploaded_when_picked_is_refused_with_the_reason(self, client, designer, store):
        def upload():
            return client.post(
                reverse("add_photo", args=["person"]),
                {"photo": png("model.png", person_photo(fmt="PNG"))},
                headers={"Accept": "application/json"},
            )

        with store.stopped():
            refused = upload()
            assert refused.status_code == 503 and refused.json() == {"error": NOT_SAVED}
            assert not InputImage.objects.exists()
        assert upload().status_code == 201 and InputImage.objects.count() == 1

    def test_a_form_with_a_new_photo_keeps_everything_else_and_sends_once_the_store_is_back(
        self, client, designer, store
    ):
        person = library_image(client)
        token = new_token()

        def send():
            form = {"tool": "fashion_swap", "submission": token, "person__kept": str(person.pk)}
            return client.post(reverse("home"), {**form, "clothes": png("dress.png", garment_photo())}, headers=HTMX)

        with store.stopped():
            response = send()
            assert response.status_code == 200
            body = response.content.decode()
            assert NOT_SAVED in body
            assert kept_in_form(body, "person") == person.pk  # the other slot's photo stays attached
            assert Job.objects.count() == 0

        response = send()  # the same form, sent again
        assert response.status_code == 200 and Job.objects.count() == 1
        assert {entry.slot for entry in Job.objects.get().inputs.all()} == {"person", "clothes"}

    def test_a_form_of_stored_photos_is_not_sent_and_keeps_them_until_the_store_is_back(self, client, designer, store):
        person, clothes, form = form_of_stored_photos(client)

        with store.stopped():
            response = client.post(reverse("home"), form, headers=HTMX)
            assert response.status_code == 200
            body = response.content.decode()
            assert NOT_SENT in body
            assert (kept_in_form(body, "person"), kept_in_form(body, "clothes")) == (person.pk, clothes.pk)
            assert Job.objects.count() == 0

        # The token was given back: the very same form is sent now.
        assert client.post(reverse("home"), form, headers=HTMX).status_code == 200
        assert Job.objects.count() == 1

    def test_run_again_is_not_sent_and_says_why_until_the_store_is_back(self, client, designer, store):
        person, clothes, form = form_of_stored_photos(client)
        client.post(reverse("home"), form, headers=HTMX)
        job = Job.objects.get()
        rerun = reverse("rerun", args=[job.history_item_id])

        with store.stopped():
            response = client.post(rerun, {"submission": new_token()}, headers=HTMX)
            assert response.status_code == 200
            assert "the image store is not answering" in response.content.decode()
            assert Job.objects.count() == 1

        assert client.post(rerun, {"submission": new_token()}, headers=HTMX).status_code == 200
        assert Job.objects.count() == 2


class TestHealthzNamesTheStore:
    def test_it_answers_503_while_the_store_is_away(self, client, designer, store, settings):
        settings.HEALTHZ_CACHE_SECONDS = 0  # asked on every hit
        assert client.get(reverse("healthz")).json()["storage"] == "ok"
        with store.stopped():
            response = client.get(reverse("healthz"))
            assert response.status_code == 503
            assert response.json()["storage"] == "unavailable" and response.json()["database"] == "ok"
        assert client.get(reverse("healthz")).json()["storage"] == "ok"

    def test_with_the_store_hung_only_the_first_probe_waits_for_it(
        self, client, designer, store, settings, monkeypatch
    ):
        # A load balancer probes every few seconds; each probe waiting the store's
        # timeouts would hold a web thread that long.
        use_store(settings, store, STORAGE_READ_TIMEOUT="1", STORAGE_RETRIES="0")
        heads = []
        real_answers = S3MediaStorage.answers

        def counted_answers(self):
            started = time.monotonic()
            try:
                return real_answers(self)
            finally:
                heads.append(time.monotonic() - started)

        monkeypatch.setattr(S3MediaStorage, "answers", counted_answers)
        with store.hung():
            for _ in range(3):
                response = client.get(reverse("healthz"))
                assert response.status_code == 503 and response.json()["storage"] == "unavailable"
        assert len(heads) == 1  # the one probe of HEALTHZ_CACHE_SECONDS
        assert heads[0] >= 1  # and it did wait for the hung store, its read timeout

    def test_a_bucket_that_is_not_there_is_unavailable(self, client, designer, store):
        store.s3.delete_bucket(Bucket=store.bucket)
        assert client.get(reverse("healthz")).json()["storage"] == "unavailable"


def tries_enqueued(cell: RunCell) -> list[int]:
    tasks = DBTaskResult.objects.order_by("enqueued_at")
    return [task.args_kwargs["args"][2] for task in tasks if task.args_kwargs["args"][0] == cell.pk]


class TestALocalDiskThatFails:
    """MEDIA_STORAGE=local (the default) on a MEDIA_ROOT that cannot be a folder: the
    same answers as S3 away."""

    @pytest.fixture
    def broken_disk(self, settings, tmp_path):
        (tmp_path / "not-a-folder").write_text("")
        settings.MEDIA_ROOT = tmp_path / "not-a-folder" / "media"

    def test_an_upload_is_refused_with_the_reason_and_healthz_says_so(self, client, designer, broken_disk):
        added = add_to_library(client, "clothes", png("linen-dress.png", garment_photo()))
        assert added.status_code == 200 and NOT_SAVED in added.content.decode()
        assert not InputImage.objects.exists()
        health = client.get(reverse("healthz"))
        assert health.status_code == 503 and health.json()["storage"] == "unavailable"


@pytest.fixture
def run_cell(designer, store, django_capture_on_commit_callbacks) -> RunCell:
    """A run of one cell, its photos stored, its task enqueued (the worker is called directly)."""
    garment, model = slots_for("fashion_swap", "fashion")
    rows = [stored_library_image(designer, "clothes", "dress")]
    columns = [stored_library_image(designer, "person", "anna")]
    tool = genapi.Tool(name="fashion_swap", title="Fashion Swap", group="fashion")
    with django_capture_on_commit_callbacks(execute=True):
        run = runs.start_run(designer, tool=tool, style=None, rows=(garment, rows), columns=(model, columns))
    SendPacer.objects.all().delete()  # sent at once, not paced
    return run.cells.get()


class TestARunWithTheStoreAway:
    def test_a_cell_waits_for_the_store_and_is_sent_once_it_is_back(self, run_cell, store):
        with store.stopped():
            assert runs.send_cell(run_cell.pk, 1, 0) == "later"
            run_cell.refresh_from_db()
            assert run_cell.state == RunCell.State.QUEUED and run_cell.problem == ""  # waiting, not lost
            assert tries_enqueued(run_cell) == [0, 1]  # its task comes again later

        SendPacer.objects.all().delete()
        assert runs.send_cell(run_cell.pk, 1, 1) == "sent"
        run_cell.refresh_from_db()
        assert run_cell.state == RunCell.State.SENT and run_cell.job is not None

    def test_a_cell_is_given_up_with_the_reason_after_its_last_try(self, run_cell, store):
        with store.stopped():
            assert runs.send_cell(run_cell.pk, 1, len(runs.BACKOFF_SECONDS) - 1) == "not sent"
        run_cell.refresh_from_db()
        assert run_cell.state == RunCell.State.NOT_SENT
        assert (
            run_cell.problem
            == "An input image could not be read from the image store, so the job was not sent. Try again sends it."
        )


def test_any_other_page_that_meets_the_store_away_is_the_503_page_saying_so(rf):
    # handler500, for a storage error no view answered more precisely.
    try:
        raise storage.StorageUnavailable("S3 did not answer")
    except storage.StorageUnavailable:
        response = server_error(rf.get("/"))
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert "The image store is not answering" in response.content.decode()
