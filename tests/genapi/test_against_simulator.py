"""`dashboard.genapi` against the running simulator, over a real socket, without mocks.

The simulator process is shared with other test modules (session fixture), so nothing
here assumes an empty history: tests make their own items and compare relative counts
or filter by ids they created. The `simulator` fixture resets every fault knob after
each test.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from PIL import Image, ImageDraw

from dashboard import genapi
from dashboard.management.commands.genapi_check import USED_ENDPOINTS, check_openapi
from tests.support.seed import SEED_TOOLS
from tests.support.simulator import SimulatorProcess, free_port
from tests.support.waiting import record_sleeps, wait_until

pytestmark = pytest.mark.integration

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HEX = set("0123456789abcdef")
JOB_TIMEOUT = 10.0


HOSTILE_IDS = ["../../generation/tools", "x%2F..", "a/b", "#x", "?x=1", "é", "a" * 10000]


# --- Helpers ---------------------------------------------------------------------------


def is_hex24(value: str) -> bool:
    return len(value) == 24 and set(value) <= HEX


def is_webp(content: bytes) -> bool:
    return content[:4] == b"RIFF" and content[8:12] == b"WEBP"


def make_client(sim: SimulatorProcess, **kwargs) -> genapi.GenApiClient:
    kwargs.setdefault("read_retries", 0)
    return genapi.GenApiClient(sim.base_url, kwargs.pop("api_key", sim.api_key), **kwargs)


def unknown_id() -> str:
    """A well-formed id no record has."""
    return uuid.uuid4().hex[:24]


def write_person(path: Path) -> Path:
    """A photo that is not flat: a vertical gradient with a figure drawn on it."""
    image = Image.new("RGB", (240, 320))
    draw = ImageDraw.Draw(image)
    for y in range(image.height):
        shade = 60 + y * 150 // image.height
        draw.line([(0, y), (image.width, y)], fill=(shade, 120, 255 - shade))
    draw.ellipse((90, 30, 150, 95), fill=(230, 190, 160))  # head
    draw.rectangle((80, 100, 160, 230), fill=(40, 60, 140))  # body
    draw.rectangle((85, 230, 115, 310), fill=(30, 30, 30))  # legs
    draw.rectangle((125, 230, 155, 310), fill=(30, 30, 30))
    image.save(path, format="PNG")
    return path


def write_garment(path: Path) -> Path:
    image = Image.new("RGB", (200, 200), (245, 245, 245))
    draw = ImageDraw.Draw(image)
    shirt = [(40, 40), (80, 20), (120, 20), (160, 40), (150, 80), (130, 70), (130, 180), (70, 180), (70, 70), (50, 80)]
    draw.polygon(shirt, fill=(200, 30, 60))
    draw.line([(70, 110), (130, 110)], fill=(255, 255, 255), width=6)
    image.save(path, format="JPEG", quality=90)
    return path


def write_flat(path: Path) -> Path:
    Image.new("RGB", (200, 260), (128, 128, 128)).save(path, format="PNG")
    return path


class Uploads:
    """Opens image files for one job and closes them afterwards."""

    def __init__(self) -> None:
        self._files: list = []

    def upload(self, slot: str, path: Path, content_type: str) -> genapi.UploadFile:
        handle = path.open("rb")
        self._files.append(handle)
        return genapi.UploadFile(slot, path.name, handle, content_type)

    def close(self) -> None:
        for handle in self._files:
            handle.close()


@pytest.fixture
def uploads() -> Iterator[Uploads]:
    opened = Uploads()
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("genapi-images")
    text = folder / "notes.png"
    text.write_bytes(b"This is a text file pretending to be a photo.\n" * 20)
    return {
        "person": write_person(folder / "person.png"),
        "garment": write_garment(folder / "garment.jpg"),
        "flat": write_flat(folder / "flat.png"),
        "text": text,
    }


def fashion_job(
    client: genapi.GenApiClient,
    uploads: Uploads,
    images: dict[str, Path],
    *,
    person: str = "person",
    generation_type: str | None = None,
) -> genapi.JobCreated:
    files = [
        uploads.upload("clothes", images["garment"], "image/jpeg"),
        uploads.upload("person", images[person], "image/png"),
    ]
    return client.create_job("fashion_swap", files, style_id=generation_type)


def wait_until_finished(client: genapi.GenApiClient, item_id: str, timeout: float = JOB_TIMEOUT) -> genapi.HistoryItem:
    def finished() -> genapi.HistoryItem | None:
        item = client.history_item(item_id)
        return item if not item.is_pending else None

    return wait_until(finished, timeout=timeout, interval=0.2, message=f"job {item_id} still pending")


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Seconds of every time.sleep() during the test (they are really slept)."""
    return record_sleeps(monkeypatch)


# --- The catalogue ---------------------------------------------------------------------


class TestToolCatalogue:
    def test_the_nine_seed_tools_are_offered_in_order_with_titles_and_groups(self, simulator):
        tools = make_client(simulator).tools()

        assert [(t.name, t.title, t.group) for t in tools] == [
            (tool["tool"], tool["title"], tool["group_tool"]) for tool in SEED_TOOLS
        ]


class TestStyles:
    def test_fashion_swap_offers_types_with_ids_and_previews_that_load_as_webp(self, simulator):
        client = make_client(simulator)

        types = client.styles("fashion_swap")

        assert types, "fashion_swap should offer generation types"
        for gtype in types:
            assert is_hex24(gtype.id)
            assert gtype.title
            assert gtype.tool == "fashion_swap"
            url = client.image_url(gtype.preview_path)
            assert url is not None and url.startswith(simulator.base_url + "/")
            image = client.fetch_image(gtype.preview_path)
            assert is_webp(image.content)
            assert image.content_type.startswith("image/webp")

    def test_the_default_tool_has_no_types(self, simulator):
        assert make_client(simulator).styles("default") == []

    def test_an_unknown_tool_is_not_found(self, simulator):
        with pytest.raises(genapi.NotFound):
            make_client(simulator).styles("no_such_tool")


# --- Creating jobs -----------------------------------------------------------------------


class TestCreatingAJob:
    def test_a_try_on_job_finishes_with_a_webp_preview_and_a_png_stock_image(self, simulator, images, uploads):
        client = make_client(simulator)

        created = fashion_job(client, uploads, images)

        assert isinstance(created, genapi.JobCreated)
        assert is_hex24(created.history_item_id)
        with pytest.raises(genapi.NotFound):
            client.fetch_image(created.preview_path)  # not there while the job is pending
        item = wait_until_finished(client, created.history_item_id)
        assert item.status == "complete", item.error_message
        assert item.tool == "fashion_swap"
        assert item.created_at is not None
        preview = client.fetch_image(item.preview_path)
        stock = client.fetch_image(item.stock_path)
        assert is_webp(preview.content)
        assert stock.content.startswith(PNG_MAGIC)

    def test_a_flat_colour_person_photo_ends_in_an_error_with_a_message(self, simulator, images, uploads):
        client = make_client(simulator)

        created = fashion_job(client, uploads, images, person="flat")
        item = wait_until_finished(client, created.history_item_id)

        assert item.status == "error"
        assert item.is_error
        assert item.error_message
        assert "person" in item.error_message.lower()
        assert item.preview_path is None

    def test_a_missing_person_photo_is_refused_on_the_person_field(self, simulator, images, uploads):
        client = make_client(simulator)

        with pytest.raises(genapi.UpstreamRejected) as caught:
            client.create_job("fashion_swap", [uploads.upload("clothes", images["garment"], "image/jpeg")])

        assert "person" in caught.value.field_errors
        assert "clothes" not in caught.value.field_errors

    def test_a_text_file_as_photo_is_refused_on_that_field(self, simulator, images, uploads):
        client = make_client(simulator)
        files = [
            uploads.upload("clothes", images["text"], "image/png"),
            uploads.upload("person", images["person"], "image/png"),
        ]

        with pytest.raises(genapi.UpstreamRejected) as caught:
            client.create_job("fashion_swap", files)

        assert list(caught.value.field_errors) == ["clothes"]
        assert caught.value.field_errors["clothes"][0]

    def test_an_unknown_generation_type_is_refused_on_the_generation_type_field(self, simulator, images, uploads):
        client = make_client(simulator)

        with pytest.raises(genapi.UpstreamRejected) as caught:
            fashion_job(client, uploads, images, generation_type="0" * 24)

        assert "style" in caught.value.field_errors

    def test_a_generation_type_of_the_tool_is_accepted(self, simulator, images, uploads):
        client = make_client(simulator)
        type_id = client.styles("fashion_swap")[0].id

        created = fashion_job(client, uploads, images, generation_type=type_id)

        item = client.history_item(created.history_item_id)
        assert item.style_id == type_id


# --- History -----------------------------------------------------------------------------


@pytest.fixture(scope="class")
def seeded_history(simulator_process, tmp_path_factory) -> dict[str, object]:
    """30 seeded items plus one job of a known generation type (its id is returned)."""
    client = make_client(simulator_process)
    before = client.history(limit=1).total_count
    simulator_process.seed(30)
    type_id = client.styles("fashion_swap")[-1].id
    folder = tmp_path_factory.mktemp("history-images")
    opened = Uploads()
    try:
        files = [
            opened.upload("clothes", write_garment(folder / "garment.jpg"), "image/jpeg"),
            opened.upload("person", write_person(folder / "person.png"), "image/png"),
        ]
        created = client.create_job("fashion_swap", files, style_id=type_id)
    finally:
        opened.close()
    return {"before": before, "type_id": type_id, "job_id": created.history_item_id}


@pytest.mark.usefixtures("seeded_history")
class TestHistory:
    def test_seeding_adds_thirty_items_to_the_total(self, simulator, seeded_history):
        total = make_client(simulator).history(limit=1).total_count

        assert total >= seeded_history["before"] + 31

    def test_page_two_shows_different_items_than_page_one(self, simulator):
        client = make_client(simulator)

        first = client.history(page=1, limit=5)
        second = client.history(page=2, limit=5)

        assert len(first.items) == 5 and len(second.items) == 5
        assert not {i.id for i in first.items} & {i.id for i in second.items}
        assert second.page == 2
        assert first.pages == math.ceil(first.total_count / 5)
        assert first.has_next and second.has_previous

    def test_the_last_page_has_no_next_page(self, simulator):
        client = make_client(simulator)
        pages = client.history(limit=5).pages

        last = client.history(page=pages, limit=5)

        assert last.items
        assert not last.has_next

    def test_filtering_by_status_returns_only_those_statuses(self, simulator):
        listing = make_client(simulator).history(limit=100, statuses=["complete", "error"])

        assert listing.items
        assert {item.status for item in listing.items} <= {"complete", "error"}
        assert "error" in {item.status for item in listing.items}  # the seed fails ~10%

    def test_filtering_by_tool_name_returns_only_that_tool(self, simulator, seeded_history):
        client = make_client(simulator)

        listing = client.history(limit=100, style_id="fashion_swap")

        assert listing.items
        assert {item.tool for item in listing.items} == {"fashion_swap"}
        assert listing.total_count < client.history(limit=1).total_count

    def test_filtering_by_type_id_returns_only_that_type(self, simulator, seeded_history):
        listing = make_client(simulator).history(limit=100, style_id=seeded_history["type_id"])

        assert seeded_history["job_id"] in {item.id for item in listing.items}
        assert {item.style_id for item in listing.items} == {seeded_history["type_id"]}

    def test_newest_items_come_first(self, simulator):
        items = make_client(simulator).history(limit=100).items

        stamps = [item.created_at for item in items]
        assert all(stamps)
        assert stamps == sorted(stamps, reverse=True)

    def test_an_oversized_limit_is_clamped_to_100_without_an_error(self, simulator):
        client = make_client(simulator)
        simulator.clear_requests()

        listing = client.history(limit=500)

        assert listing.limit == 100
        assert len(listing.items) <= 100
        sent = [entry for entry in simulator.requests() if entry["path"] == "/user/generation-history"]
        assert len(sent) == 1
        assert "limit=100" in sent[0]["query"].split("&")
        assert sent[0]["status"] == 200


# --- Feedback and deletion ---------------------------------------------------------------


@pytest.fixture
def job_id(simulator, images, uploads) -> str:
    return fashion_job(make_client(simulator), uploads, images).history_item_id


class TestFeedback:
    def test_a_like_is_shown_when_the_item_is_read_again(self, simulator, job_id):
        client = make_client(simulator)

        client.set_feedback(job_id, True)

        assert client.history_item(job_id).like is True

    def test_a_dislike_is_shown_when_the_item_is_read_again(self, simulator, job_id):
        client = make_client(simulator)
        client.set_feedback(job_id, True)

        client.set_feedback(job_id, False)

        assert client.history_item(job_id).like is False

    def test_feedback_on_an_item_that_does_not_exist_is_not_found(self, simulator):
        with pytest.raises(genapi.NotFound):
            make_client(simulator).set_feedback(unknown_id(), True)


class TestDeleting:
    def test_a_deleted_item_is_gone(self, simulator, job_id):
        client = make_client(simulator)

        client.delete(job_id)

        with pytest.raises(genapi.NotFound):
            client.history_item(job_id)

    def test_deleting_twice_is_not_found(self, simulator, job_id):
        client = make_client(simulator)
        client.delete(job_id)

        with pytest.raises(genapi.NotFound):
            client.delete(job_id)

    def test_reading_an_item_that_never_existed_is_not_found(self, simulator):
        with pytest.raises(genapi.NotFound) as caught:
            make_client(simulator).history_item(unknown_id())

        assert not isinstance(caught.value, genapi.InvalidId)
        assert caught.value.status == 404


# --- Errors ------------------------------------------------------------------------------


class TestAuthAndPlan:
    def test_a_wrong_key_is_reported_as_a_key_problem(self, simulator):
        client = make_client(simulator, api_key="not-the-key")

        with pytest.raises(genapi.UpstreamAuthError) as caught:
            client.tools()

        assert caught.value.status == 401
        assert client.last_problem == genapi.UpstreamAuthError.default_message
        assert "not-the-key" not in caught.value.message

    def test_a_read_only_key_may_read_but_not_create_or_delete(self, tmp_path, images, uploads):
        with SimulatorProcess(tmp_path, env={"SIMULATOR_READONLY_KEYS": "read-only-key"}) as readonly_sim:
            client = make_client(readonly_sim, api_key="read-only-key")

            assert len(client.tools()) == 9
            client.history(limit=5)
            with pytest.raises(genapi.PlanNotAllowed) as caught:
                fashion_job(client, uploads, images)
            assert caught.value.status == 403
            with pytest.raises(genapi.PlanNotAllowed):
                client.delete(unknown_id())
            with pytest.raises(genapi.PlanNotAllowed):
                client.set_feedback(unknown_id(), True)
            assert client.history(limit=1).total_count == 0  # nothing was created


class TestServerErrors:
    def test_reads_fail_with_an_upstream_error_when_the_service_breaks(self, simulator):
        simulator.configure(error_rate=1.0)

        with pytest.raises(genapi.UpstreamError) as caught:
            make_client(simulator, read_retries=0).tools()

        assert caught.value.status == 500

    def test_job_creation_fails_with_an_upstream_error_when_the_service_breaks(self, simulator, images, uploads):
        client = make_client(simulator)
        simulator.configure(error_rate=1.0)

        with pytest.raises(genapi.UpstreamError):
            fashion_job(client, uploads, images)

    def test_an_html_error_page_gives_a_clear_message_without_markup(self, simulator):
        simulator.configure(error_rate=1.0, error_body="html")

        with pytest.raises(genapi.UpstreamError) as caught:
            make_client(simulator, read_retries=0).history()

        assert caught.value.status == 502
        assert caught.value.message
        assert "<html" not in caught.value.message.lower()
        assert "<html" not in str(caught.value).lower()

    def test_reads_are_retried_but_a_job_is_never_submitted_twice(self, simulator, images, uploads):
        client = make_client(simulator, read_retries=2)
        simulator.configure(error_rate=1.0)
        simulator.clear_requests()

        with pytest.raises(genapi.UpstreamError):
            client.tools()
        with pytest.raises(genapi.UpstreamError):
            fashion_job(client, uploads, images)

        log = simulator.requests()
        reads = [e for e in log if e["method"] == "GET" and e["path"] == "/generation/tools"]
        posts = [e for e in log if e["method"] == "POST"]
        assert len(reads) == 3
        assert len(posts) == 1
        assert all(entry["status"] == 500 for entry in reads + posts)


def upstream_calls(simulator) -> list[tuple[str, str, int]]:
    return [(entry["method"], entry["path"], entry["status"]) for entry in simulator.requests()]


class TestRateLimiting:
    # How long these take: bench/give_up_times.py. Here: what was waited, what was asked.
    def test_a_long_rate_limit_window_is_reported_at_once(self, simulator, sleeps):
        # With read retries on, as in production: urllib3 must not wait out the window either.
        client = make_client(simulator, read_retries=2)
        simulator.configure(rate_limit="2/60")
        client.tools()
        client.tools()
        simulator.clear_requests()

        with pytest.raises(genapi.RateLimited) as caught:
            client.tools()

        assert caught.value.retry_after is not None and 1 <= caught.value.retry_after <= 60
        assert sleeps == [], "the client waited although the window is too long to wait out"
        assert upstream_calls(simulator) == [("GET", "/generation/tools", 429)]

    def test_a_short_rate_limit_window_is_waited_out_for_reads(self, simulator, sleeps):
        client = make_client(simulator)
        simulator.configure(rate_limit="1/2")
        client.tools()
        simulator.clear_requests()

        tools = client.tools()

        assert [tool.name for tool in tools] == [tool["tool"] for tool in SEED_TOOLS]
        # Refused, waited out the Retry-After the service sent (1-2 s), asked once more.
        assert upstream_calls(simulator) == [("GET", "/generation/tools", 429), ("GET", "/generation/tools", 200)]
        assert len(sleeps) == 1 and 1 <= sleeps[0] <= 2, sleeps


class TestSlowOrUnreachableService:
    def test_a_slow_service_is_reported_as_unavailable_quickly(self, simulator, images, uploads):
        client = make_client(simulator, read_timeout=0.5, upload_timeout=0.5)
        simulator.configure(latency_ms=1500)
        simulator.clear_requests()

        # "Quickly": the client gives up on its own timeout, before the service answers,
        # and the simulator logs a request only once it has answered it (1.5 s later).
        with pytest.raises(genapi.UpstreamUnavailable):
            client.tools()
        assert upstream_calls(simulator) == [], "the read waited for the slow answer"
        with pytest.raises(genapi.UpstreamUnavailable):
            fashion_job(client, uploads, images)
        assert not [call for call in upstream_calls(simulator) if call[0] == "POST"], (
            "the upload waited for the slow answer"
        )
        assert client.last_problem == genapi.UpstreamUnavailable.default_message

        # Control: both abandoned requests did reach the service and were answered late
        # (and they are waited for here so they do not land in a later test's log).
        logged = wait_until(
            lambda: len(upstream_calls(simulator)) >= 2 and upstream_calls(simulator),
            timeout=10,
            message="the abandoned requests never showed in the simulator's log",
        )
        assert sorted(method for method, _, _ in logged) == ["GET", "POST"]

    def test_a_read_that_timed_out_is_not_tried_again(self, simulator):
        # Retries are for refused connections and 5xx answers; a read timeout means the
        # service took the request and is slow, and each try would cost a whole timeout.
        client = make_client(simulator, read_timeout=0.5, read_retries=2)
        simulator.configure(latency_ms=1500)
        simulator.clear_requests()
        with pytest.raises(genapi.UpstreamUnavailable, match="took too long"):
            client.tools()
        time.sleep(2.5)  # let every try that was sent reach the simulator's log
        assert [r["path"] for r in simulator.requests()] == ["/generation/tools"]

    def test_a_5xx_read_is_still_tried_again(self, simulator):
        client = make_client(simulator, read_retries=2)
        simulator.configure(error_rate=1.0)
        simulator.clear_requests()
        with pytest.raises(genapi.UpstreamError):
            client.tools()
        assert [r["path"] for r in simulator.requests()] == ["/generation/tools"] * 3

    def test_nothing_listening_is_reported_as_unavailable(self):
        client = genapi.GenApiClient(f"http://127.0.0.1:{free_port()}", "any-key", read_retries=0)

        with pytest.raises(genapi.UpstreamUnavailable):
            client.tools()

        assert client.last_problem == genapi.UpstreamUnavailable.default_message


# --- Hostile ids ---------------------------------------------------------------------------


class TestHostileIds:
    @pytest.mark.parametrize("bad_id", HOSTILE_IDS, ids=lambda value: repr(value[:24]))
    def test_a_hostile_id_never_reaches_the_service(self, simulator, bad_id):
        client = make_client(simulator)
        simulator.clear_requests()

        with pytest.raises(genapi.InvalidId):
            client.history_item(bad_id)
        with pytest.raises(genapi.InvalidId):
            client.set_feedback(bad_id, True)
        with pytest.raises(genapi.InvalidId):
            client.delete(bad_id)

        assert simulator.requests() == []
        # Control: a well-formed id asked on purpose does reach the service and its log.
        well_formed = unknown_id()
        with pytest.raises(genapi.NotFound):
            client.history_item(well_formed)
        assert upstream_calls(simulator) == [("GET", f"/user/generation-history/{well_formed}", 404)]


# --- Diagnostics -------------------------------------------------------------------------


class TestOpenApiCheck:
    def test_the_simulator_documents_every_endpoint_the_dashboard_uses(self, simulator):
        doc = make_client(simulator).openapi()

        assert doc is not None
        assert "/user/generation-history" in doc["paths"]
        report = check_openapi(doc)
        assert len(report) == len(USED_ENDPOINTS)
        assert all(ok for ok, _ in report), [sentence for ok, sentence in report if not ok]


class TestGenapiCheckCommand:
    def run(self, settings, capsys, base_url: str, api_key: str) -> str:
        settings.GENAPI_BASE_URL = base_url
        settings.GENAPI_API_KEY = api_key
        call_command("genapi_check")
        return capsys.readouterr().out

    def test_a_working_setup_is_confirmed(self, simulator, settings, capsys):
        out = self.run(settings, capsys, simulator.base_url, simulator.api_key)

        assert "key is accepted" in out
        assert "Every endpoint" in out
        assert "MISS" not in out

    def test_a_wrong_key_is_named_as_the_problem(self, simulator, settings, capsys):
        with pytest.raises(CommandError) as caught:
            self.run(settings, capsys, simulator.base_url, "not-the-key")

        message = str(caught.value)
        assert "refused the key" in message
        assert "not-the-key" not in message

    def test_an_unreachable_service_is_named_as_the_problem(self, settings, capsys):
        base_url = f"http://127.0.0.1:{free_port()}"

        with pytest.raises(CommandError) as caught:
            self.run(settings, capsys, base_url, "any-key")

        message = str(caught.value)
        assert "could not be reached" in message
        assert base_url in message
        assert "Traceback" not in message
