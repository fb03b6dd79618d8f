"""The API key never reaches a browser or a log line, whatever page, user or failure.

The key is a unique canary here, and a simulator of this module's own accepts only it,
so every request below really is authenticated with it. Every URL of the project is
walked with real ids, by GET and POST, logged in and out, with and without htmx; error
pages are rendered with DEBUG off; and an upstream that echoes the key back in its error
bodies (which the simulator never does, hence `responses`) must not get it onto a page.
Every log record of the whole module is collected and searched for it too.
"""

from __future__ import annotations

import contextlib
import logging
import re
import traceback
from datetime import timedelta
from uuid import uuid4

import pytest
import requests
import responses
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard import genapi
from dashboard.core.slots import Slot
from dashboard.core.tokens import new as new_token
from dashboard.models import InputImage, Job, Run, RunCell, SyncState
from dashboard.runs import services as runs
from tests.security.support import HTMX, Ids, body_of, header_values, kwargs_for, routes
from tests.support.corpus import flat_photo, garment_photo, person_photo
from tests.support.index import catch_up, indexed
from tests.support.key_recovery import pieces_of_key
from tests.support.simulator import SimulatorProcess
from tests.support.sync import sync_running
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

CANARY = "canary-" + uuid4().hex
FAKE_API = "http://genapi.test"


# --- Logs: every record the module produces, from every logger -------------------------


class Collector(logging.Handler):
    """Keeps every record; `excused` ones were provoked on purpose with the canary inside."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.excusing = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.excusing:
            self.records.append(record)

    @contextlib.contextmanager
    def excused(self):
        self.excusing = True
        try:
            yield
        finally:
            self.excusing = False


def record_text(record: logging.LogRecord) -> str:
    parts = [str(record.msg), repr(record.args)]
    with contextlib.suppress(Exception):
        parts.append(record.getMessage())
    if record.exc_info:
        parts.append("".join(traceback.format_exception(*record.exc_info)))
    if record.exc_text:
        parts.append(record.exc_text)
    return "\n".join(parts)


def leaking(records) -> list[str]:
    """Records from which the key can be read or decoded."""
    return [f"{r.name}: {record_text(r)[:300]}" for r in records if pieces_of_key(record_text(r), CANARY)]


# The project's LOGGING stops "dashboard" and "django" records at their own loggers
# (propagate=False), so the collector listens on those as well as on the root.
LISTENED = ("", "dashboard", "django", "urllib3", "requests")


@pytest.fixture(scope="module", autouse=True)
def module_logs():
    collector = Collector()
    saved = []
    for name in LISTENED:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.setLevel(logging.DEBUG)
        logger.addHandler(collector)
    yield collector
    for logger, level in saved:
        logger.removeHandler(collector)
        logger.setLevel(level)
    assert collector.records, "the collector saw no log record at all: it is not listening"
    assert leaking(collector.records) == [], "the API key was logged during this module"


@pytest.fixture(autouse=True)
def no_key_in_this_tests_logs(module_logs, caplog):
    caplog.set_level(logging.DEBUG)
    seen = len(module_logs.records)
    yield
    assert leaking(module_logs.records[seen:]) == []
    assert leaking(caplog.records) == []


# --- Responses ------------------------------------------------------------------------


def assert_no_canary(response, where: str, body: bytes | None = None) -> None:
    """`body`: the response's content when already read (a streamed one reads only once)."""
    body = body_of(response) if body is None else body
    assert CANARY.encode() not in body, f"{where}: the API key is in the response body"
    for header in header_values(response):
        assert CANARY not in header, f"{where}: the API key is in a header: {header[:200]}"


# --- A simulator that accepts only the canary, with real items -------------------------


def upload_directly(sim: SimulatorProcess, person: bytes) -> str:
    """A job created straight at the simulator (no dashboard), for an upstream-only item."""
    response = requests.post(
        f"{sim.base_url}/generation/generate_image_v2/",
        headers=sim.headers,
        data={"tool": "fashion_swap"},
        files={"clothes": ("c.png", garment_photo(), "image/png"), "person": ("p.png", person, "image/png")},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["history_item_id"]


def item_ids(sim: SimulatorProcess, status: str) -> list[str]:
    response = requests.get(
        f"{sim.base_url}/user/generation-history",
        headers=sim.headers,
        params={"status": status, "limit": 100},
        timeout=10,
    )
    response.raise_for_status()
    return [item["id"] for item in response.json()["items"]]


def one_item(sim: SimulatorProcess, status: str, besides: str = "") -> str:
    """An item in that status other than `besides`; made (and waited for) when the walks
    deleted the last one."""
    found = [item for item in item_ids(sim, status) if item != besides]
    if found:
        return found[0]
    made = upload_directly(sim, person_photo(fmt="PNG") if status == "complete" else flat_photo())
    wait_until(lambda: made in item_ids(sim, status), timeout=15, message=f"no {status} item appeared in the simulator")
    return made


@pytest.fixture(scope="module")
def canary_sim(tmp_path_factory):
    with SimulatorProcess(
        tmp_path_factory.mktemp("canary-simulator"),
        env={"SIMULATOR_API_KEYS": CANARY, "SIMULATOR_JOB_SECONDS": "0.5"},
    ) as sim:
        sim.seed(10)
        assert sim.api_key == CANARY
        yield sim


@pytest.fixture
def designer(ada):
    """Ada, logged in nowhere: the walks log `client` in and out themselves."""
    return ada


@pytest.fixture
def world(canary_sim, settings, client, designer) -> Ids:
    """A job sent through the dashboard (so a Job and InputImages exist) and real upstream ids."""
    settings.DEBUG = False
    settings.GENAPI_BASE_URL = canary_sim.base_url
    settings.GENAPI_API_KEY = CANARY
    client.force_login(designer)
    sent = client.post(
        "/",
        {
            "tool": "fashion_swap",
            "submission": new_token(),
            "clothes": SimpleUploadedFile("dress.png", garment_photo(), "image/png"),
            "person": SimpleUploadedFile("model.png", person_photo(fmt="PNG"), "image/png"),
        },
    )
    assert sent.status_code == 303, "the job could not be sent through the dashboard"
    running = Job.objects.get(designer=designer)
    # A run of the same photos, not sent (no worker here): its pages show its matrix.
    waiting_run = runs.start_run(
        designer,
        tool=genapi.Tool(name="fashion_swap", title="Fashion Swap", group="fashion"),
        style=None,
        rows=(Slot("clothes", "Garment"), [entry.image for entry in running.inputs.filter(slot="clothes")]),
        columns=(Slot("person", "Model photo"), [entry.image for entry in running.inputs.filter(slot="person")]),
    )
    tools = requests.get(
        f"{canary_sim.base_url}/generation/generationTypes",
        headers=canary_sim.headers,
        params={"tool": "fashion_swap"},
        timeout=10,
    ).json()
    # Not the job just sent: it may have finished already (in 0.5 s) and be the newest.
    complete = one_item(canary_sim, "complete", besides=running.history_item_id)
    # A run of one cell whose result is that complete item (its ZIP carries the image).
    run = Run.objects.create(
        designer=designer, designer_name="ada", tool="fashion_swap", row_slot="clothes", row_label="Garment"
    )
    finished = Job.objects.create(
        history_item_id=complete, designer=designer, tool="fashion_swap", status=Job.Status.COMPLETE, run=run
    )
    RunCell.objects.create(
        run=run, row=0, column=0, row_image=running.inputs.first().image, job=finished, state=RunCell.State.SENT
    )
    failed = one_item(canary_sim, "error")
    catch_up()  # the sync process has read the simulator: pages show what it holds
    return Ids(
        items=[
            complete,
            failed,
            running.history_item_id,
            "0123456789abcdef01234567",  # well-formed, unknown upstream
        ],
        input_pks=list(InputImage.objects.filter(owner=designer).values_list("pk", flat=True)),
        tool="fashion_swap",
        style_id=tools[0]["id"],
        run_ids=[run.pk, waiting_run.pk],
    )


# The positive control of the walk: for each view, what shows that it really answered a
# logged-in designer with the upstream's data, i.e. rendered what a leak would ride on.
PROBLEM_MARKS = (b"notice-error", b"notice-warning", b'id="upstream-banner"', b'class="field-error"')


def _page_with_upstream_items(response, body: bytes, world: Ids) -> bool:
    return (
        response.status_code == 200
        and any(item.encode() in body for item in world.items)
        and not any(mark in body for mark in PROBLEM_MARKS)
    )


def _served_image(response, body: bytes, world: Ids) -> bool:
    return response.status_code == 200 and response["Content-Type"].startswith("image/") and len(body) > 0


SHOWN_BY_THE_VIEW = {
    **dict.fromkeys(
        [
            "home",
            "tray",
            "history",
            "history_item",
            "feedback",
            "review",
            "history_delete",
            "history_restore",
            "rerun",
            "history_rerun",
        ],
        _page_with_upstream_items,
    ),
    # The walk's bulk like names unknown and running items too: some fail, some are liked.
    "history_bulk": lambda response, body, world: response.status_code == 200 and re.search(rb"\b[1-9]\d* liked", body),
    **dict.fromkeys(["result_image", "input_image", "style_preview"], _served_image),
    # A ZIP (of the run's result, of the selection's complete item) with an image in it.
    **dict.fromkeys(
        ["run_download", "history_download"],
        lambda response, body, world: (
            response.status_code == 200 and response["Content-Type"] == "application/zip" and b"\x89PNG" in body
        ),
    ),
    "healthz": lambda response, body, world: response.status_code == 200 and b'"upstream": "ok"' in body,
    "metrics": lambda response, body, world: response.status_code == 404,  # no METRICS_TOKEN in the tests
    "insights": lambda response, body, world: response.status_code == 200 and b"<svg" in body,
    # The walk asks for one figure there is and one there is not.
    "insights_csv": lambda response, body, world: response.status_code in (200, 404),
    "run_heatmap_csv": lambda response, body, world: (
        response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    ),
    # Not an ASGI request (the test client): no stream, the page polls. Streams: tests/live/.
    "events": lambda response, body, world: response.status_code == 204,
    # The walk's POST carries no photo: the slot says to choose one.
    "add_photo": lambda response, body, world: (
        response.status_code == 400 and b"Choose a file for the model photo" in body
    ),
    "history_poll": lambda response, body, world: response.status_code == 286,  # answered: stop polling
    # Asked without ids: the page asks for two to four (the walk names no query).
    "history_compare": lambda response, body, world: response.status_code == 200 and b"<h1>Compare</h1>" in body,
    # Asked without a page's mark or cards: nothing to tell.
    "history_news": lambda response, body, world: response.status_code == 204,
    "login": lambda response, body, world: (
        response.status_code == 302 and not response["Location"].startswith("/login/")
    ),
    "logout": lambda response, body, world: response.status_code == 302,
    "trash": lambda response, body, world: response.status_code == 200 and b"<h1>Trash</h1>" in body,
    # Changes made in the trash answer with the Trash page (or the gallery) to go back to.
    **dict.fromkeys(
        ["trash_restore", "trash_empty", "trash_delete"], lambda response, body, world: response.status_code == 303
    ),
    # The job sent above filed its inputs in the library.
    "library": lambda response, body, world: response.status_code == 200 and b'class="library-card' in body,
    "library_add": lambda response, body, world: response.status_code == 200 and b'id="library-browse"' in body,
    "library_pick": lambda response, body, world: response.status_code == 404 and b"no such slot" in body,
    "library_image": lambda response, body, world: response.status_code == 200 and b'class="library-card' in body,
    "runs": lambda response, body, world: response.status_code == 200 and b'<h1 id="runs-title">Runs</h1>' in body,
    # The walk's POST carries no images: the form comes back saying what is missing.
    "new_run": lambda response, body, world: response.status_code in (200, 400) and b'id="run-form"' in body,
    "run_picker": lambda response, body, world: response.status_code == 200 and b'class="picker"' in body,
    "run": lambda response, body, world: response.status_code == 200 and b'<table class="matrix">' in body,
    # A poll answers with the matrix; 286 also stops polling a finished run.
    "run_poll": lambda response, body, world: response.status_code in (200, 286) and b'id="run-live"' in body,
    # Cancel and try again answer with the run page to go back to.
    **dict.fromkeys(["run_cancel", "run_retry"], lambda response, body, world: response.status_code == 303),
    # A rename answers with the run page (303), or that page saying why (a name too long: 400).
    "run_rename": lambda response, body, world: response.status_code in (303, 400),
}

# What a POST carries to whichever view it reaches: plausible for every form.
POST_DATA = {
    "like": "true",
    "note": "Looks right",
    "action": "like",
    "tool": "fashion_swap",
    "next": "/history/",
    "username": "ada",
    "password": "wrong",
}


class TestEveryPageWithTheRealSimulator:
    @pytest.mark.parametrize("route", routes(), ids=lambda r: r.name)
    def test_no_page_shows_the_api_key_to_anyone(self, route, world, designer, client):
        post_data = {**POST_DATA, "ids": world.items}
        requests_made = 0
        shown = SHOWN_BY_THE_VIEW[route.name]  # a new view: say what shows it answered
        answered = 0
        for kwargs in kwargs_for(route, world):
            url = reverse(route.name, kwargs=kwargs)
            for logged_in in (True, False):
                for headers in ({}, HTMX):
                    for method in ("GET", "POST"):
                        if logged_in:
                            client.force_login(designer)  # logout, when walked, ends the session
                        else:
                            client.logout()
                        if method == "GET":
                            response = client.get(url, headers=headers)
                        else:
                            response = client.post(url, {**post_data, "submission": new_token()}, headers=headers)
                        body = body_of(response)
                        assert_no_canary(response, f"{method} {url} logged_in={logged_in} htmx={bool(headers)}", body)
                        requests_made += 1
                        if logged_in and shown(response, body, world):
                            answered += 1
        assert requests_made >= 8
        assert answered, (
            f"{route.name}: no request of the walk got the view's own answer, so the pages checked were empty or errors"
        )

    def test_the_walk_really_talks_to_the_simulator_with_the_key(self, world, client, canary_sim):
        """What the walk's pages show came from the simulator, which accepts only the key:
        the gallery's results were read by the sync process (pages read the index and make
        no upstream call of their own), and a result's image is proxied with the key."""
        canary_sim.clear_requests()
        catch_up()
        history_reads = [entry for entry in canary_sim.requests() if entry["path"] == "/user/generation-history"]
        assert history_reads and all(entry["status"] == 200 for entry in history_reads)
        canary_sim.clear_requests()
        gallery = client.get("/history/")
        assert gallery.status_code == 200 and world.items[0].encode() in gallery.content
        assert canary_sim.requests() == [], "the gallery called the upstream: it reads the index"
        image = client.get(reverse("result_image", args=[world.items[0], "stock"]))
        assert image.status_code == 200 and image["Content-Type"].startswith("image/")
        assert any(entry["status"] == 200 for entry in canary_sim.requests())


# --- Error pages with DEBUG off ---------------------------------------------------------


@pytest.fixture
def raising_urls(settings):
    settings.ROOT_URLCONF = "tests.security.raising_urls"
    settings.DEBUG = False
    settings.GENAPI_API_KEY = CANARY


ERROR_HEADINGS = {
    400: "That request could not be understood",
    403: "This action was refused",
    404: "Nothing here",
    500: "Something went wrong on our side",
}


class TestErrorPages:
    @pytest.mark.parametrize("code", [400, 403, 404, 500])
    @pytest.mark.parametrize("logged_in", [True, False], ids=["designer", "visitor"])
    def test_error_pages_never_show_the_exception_that_carried_the_key(
        self, code, logged_in, raising_urls, designer, module_logs
    ):
        browser = Client(raise_request_exception=False)
        if logged_in:
            browser.force_login(designer)
        # The exception we raise carries the key on purpose; Django logs its text, which
        # is our own doing, so those records are set aside. The page is what is tested.
        with module_logs.excused():
            response = browser.get(f"/_raise/{code}")
            htmx_response = browser.get(f"/_raise/{code}", headers=HTMX)
        assert response.status_code == htmx_response.status_code == code
        # Control: these are our error pages, rendered, where the exception's text would go.
        assert ERROR_HEADINGS[code] in response.content.decode()
        assert ERROR_HEADINGS[code] in htmx_response.content.decode()
        assert_no_canary(response, f"the {code} page")
        assert_no_canary(htmx_response, f"the {code} page for htmx")

    @pytest.mark.parametrize("logged_in", [True, False], ids=["designer", "visitor"])
    def test_a_missing_page_shows_no_key(self, logged_in, settings, designer):
        settings.DEBUG = False
        settings.GENAPI_API_KEY = CANARY
        browser = Client(raise_request_exception=False)
        if logged_in:
            browser.force_login(designer)
        response = browser.get("/no/such/page/")
        assert response.status_code == 404
        assert ERROR_HEADINGS[404] in response.content.decode()  # our page, rendered
        assert_no_canary(response, "the 404 page of an unknown address")


# --- An upstream that echoes the key in its error bodies --------------------------------

TOOLS = [{"group_tool": "fashion", "tool": "fashion_swap", "title": "Fashion Swap"}]
TYPES = [{"id": "aaaaaaaaaaaaaaaaaaaaaaaa", "title": "Studio white", "preview_url": "image/t/a.webp"}]
ITEM_ID = "abcdefabcdefabcdefabcdef"  # made here, not indexed yet: a page reads it upstream once
RUNNING_ID = "0a1b2c3d4e5f0a1b2c3d4e5f"  # made here, running in the index: the sync follows it
INDEXED_ID = "fedcbafedcbafedcbafedcba"  # complete in the index: its image paths come from there


def echoing_bodies() -> dict[str, dict]:
    """Ways an upstream's error body can carry the key it was sent."""
    bearer = f"Authorization: Bearer {CANARY}"
    return {
        "detail": {"json": {"detail": f"Request rejected; headers were {{{bearer}}}"}},
        "field-errors": {
            "json": {
                "detail": [
                    {"loc": ["body", "person"], "msg": f"Bad upload for key {CANARY}", "type": "value_error"},
                    {"loc": ["body", CANARY], "msg": bearer, "type": "value_error"},
                    {"loc": ["body"], "msg": f"bearer\t{CANARY}", "type": "value_error"},
                ]
            }
        },
        "message": {"json": {"message": f"api_key={CANARY}", "error": bearer}},
        "html": {
            "body": f"<html><body><h1>Bad gateway</h1><pre>{bearer}\nkey={CANARY}</pre></body></html>",
            "content_type": "text/html",
        },
        "text": {"body": f"upstream said: {bearer}", "content_type": "text/plain"},
    }


@pytest.fixture
def echoing_api(settings):
    settings.GENAPI_BASE_URL = FAKE_API
    settings.GENAPI_API_KEY = CANARY
    settings.DEBUG = False

    def build(status: int, body: dict, *, catalogue_fails: bool) -> responses.RequestsMock:
        mock = responses.RequestsMock(assert_all_requests_are_fired=False)
        if not catalogue_fails:
            mock.get(f"{FAKE_API}/generation/tools", json=TOOLS)
            mock.get(re.compile(rf"{re.escape(FAKE_API)}/generation/generationTypes\?.*"), json=TYPES)
        # A long window: handed back to the designer as a message, never slept through.
        headers = {"Retry-After": "120"} if status == 429 else {}
        for method in ("GET", "POST", "PATCH", "DELETE"):
            mock.add(method, re.compile(rf"{re.escape(FAKE_API)}/.*"), status=status, headers=headers, **body)
        return mock

    return build


def the_index_meets_the_failing_upstream(designer, settings) -> None:
    """What the index held before the upstream began failing (a running job made here, a
    finished result), then the sync process, the only status poller, running against it
    until it has recorded what went wrong: the pages show the index and that problem."""
    Job.objects.create(history_item_id=RUNNING_ID, designer=designer, tool="fashion_swap")
    indexed(
        {
            "id": RUNNING_ID,
            "status": "pending",
            "generation_type": "fashion_swap",
            "created_at": "2026-01-01T10:00:00Z",
        },
        {
            "id": INDEXED_ID,
            "status": "complete",
            "generation_type": "fashion_swap",
            "created_at": "2026-01-01T09:00:00Z",
            "preview_url": "/image/r/p.png",
            "stock_url": "/image/r/s.png",
        },
    )
    with sync_running(settings):
        wait_until(
            lambda: SyncState.objects.exclude(problem="").exists(),
            timeout=15,
            message="the sync did not record the upstream's failure",
        )
    # As if its last answer had come an hour ago (beyond SYNC_STALE_SECONDS): the pages say
    # the upstream cannot be reached, with the problem the sync recorded.
    assert SyncState.objects.exclude(problem="").update(last_contact_at=timezone.now() - timedelta(hours=1)) == 1


def pages_against_a_failing_upstream(client, designer) -> list[tuple[str, object]]:
    """Every page that shows what the upstream said (itself, or through the sync process),
    as a designer reaches it."""
    client.force_login(designer)
    stored = default_storage.save("inputs/x.png", ContentFile(garment_photo()))
    image = InputImage.objects.create(
        owner=designer,
        file=stored,
        thumbnail=stored,
        original_name="x.png",
        content_type="image/png",
        size=1,
        width=400,
        height=500,
    )
    Job.objects.get_or_create(history_item_id=ITEM_ID, defaults={"designer": designer, "tool": "fashion_swap"})
    gallery = [("GET /history/", {}), ("GET /history/ (htmx)", {**HTMX, "HX-Target": "gallery"})]
    shown = []
    for label, headers in gallery:
        shown.append((label, client.get("/history/", headers=headers)))
    for headers in ({}, HTMX, {**HTMX, "HX-Target": "lightbox"}):
        shown.append((f"GET detail {headers}", client.get(f"/history/{ITEM_ID}/", headers=headers)))
    shown += [
        ("GET /", client.get("/")),
        (
            "GET /?tool=fashion_swap (htmx workspace)",
            client.get("/?tool=fashion_swap", headers={**HTMX, "HX-Target": "generate-workspace"}),
        ),
        ("GET tray", client.get("/jobs/tray", headers=HTMX)),
        ("GET poll", client.get(f"/history/poll?ids={RUNNING_ID}", headers=HTMX)),
        ("GET healthz", client.get("/healthz")),
        ("GET preview", client.get(f"/results/{ITEM_ID}/preview")),
        ("GET stock download", client.get(f"/results/{ITEM_ID}/stock?download=1")),
        ("GET indexed preview", client.get(f"/results/{INDEXED_ID}/preview")),
        ("GET indexed stock download", client.get(f"/results/{INDEXED_ID}/stock?download=1")),
        ("GET style preview", client.get(reverse("style_preview", args=["fashion_swap", TYPES[0]["id"]]))),
    ]
    for headers in ({}, HTMX):
        shown.append(
            (
                f"POST generate {headers}",
                client.post(
                    "/",
                    {
                        "tool": "fashion_swap",
                        "submission": new_token(),
                        "clothes": SimpleUploadedFile("dress.png", garment_photo(), "image/png"),
                        "person": SimpleUploadedFile("model.png", person_photo(fmt="PNG"), "image/png"),
                    },
                    headers=headers,
                ),
            )
        )
        shown.append(
            (
                f"POST generate kept {headers}",
                client.post(
                    "/",
                    {
                        "tool": "fashion_swap",
                        "submission": new_token(),
                        "clothes__kept": image.pk,
                        "person__kept": image.pk,
                    },
                    headers=headers,
                ),
            )
        )
        shown.append(
            (
                f"POST feedback {headers}",
                client.post(f"/results/{ITEM_ID}/feedback", {"like": "true", "next": "/history/"}, headers=headers),
            )
        )
        shown.append((f"POST delete {headers}", client.post(f"/history/{ITEM_ID}/delete", headers=headers)))
        shown.append(
            (
                f"POST delete gallery {headers}",
                client.post(f"/history/{ITEM_ID}/delete", headers={**headers, "HX-Target": "gallery"}),
            )
        )
        for action in ("like", "dislike", "delete"):
            shown.append(
                (
                    f"POST bulk {action} {headers}",
                    client.post("/history/bulk", {"action": action, "ids": [ITEM_ID, "b" * 24]}, headers=headers),
                )
            )
        Job.objects.get_or_create(history_item_id=ITEM_ID, defaults={"designer": designer, "tool": "fashion_swap"})
        shown.append(
            (
                f"POST rerun {headers}",
                client.post(f"/jobs/{ITEM_ID}/rerun", {"submission": new_token()}, headers=headers),
            )
        )
        if not headers:
            # Whatever was put in the session (messages) is shown on the next full page.
            shown.append(("GET / after the redirects", client.get("/")))
            shown.append(("GET /history/ after the redirects", client.get("/history/")))
    return shown


def expected_status(label: str, upstream_status: int, catalogue_fails: bool) -> int:
    """What each page of `pages_against_a_failing_upstream` answers while every upstream
    call fails with `upstream_status`: the failure is said on the page (200), a poll
    of a job whose status the sync could not learn changes nothing (204), a change
    sent without htmx redirects back to say it there (303), the health check is degraded
    (503), images are a placeholder (404 for an item the upstream does not know, else
    503), and an item the upstream does not know is not found (404)."""
    unknown = upstream_status == 404
    if label == "GET healthz":
        return 503
    if label == "GET poll":
        # The poll reads the index: the sync could not learn the running job's status, so
        # nothing changed and the card polls on (the poll itself calls no upstream).
        return 204
    images = ("GET preview", "GET stock download", "GET style preview")
    if label in (*images, "GET indexed preview", "GET indexed stock download"):
        # The image itself is fetched upstream, its path read upstream (not indexed yet) or from the index.
        return 404 if unknown else 503
    if label.startswith("GET detail"):
        return 404 if unknown else 200
    if label.startswith("POST") and label.endswith(" {}") and not label.startswith("POST generate"):
        return 303
    return 200


class TestAnUpstreamThatEchoesTheKey:
    @pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 429, 500, 502])
    @pytest.mark.parametrize("shape", list(echoing_bodies()))
    @pytest.mark.parametrize("catalogue_fails", [False, True], ids=["actions-fail", "everything-fails"])
    # transactional_db: the sync process runs in a thread, on its own connection.
    def test_its_error_bodies_never_reach_a_page(
        self, status, shape, catalogue_fails, echoing_api, client, designer, settings, transactional_db
    ):
        with echoing_api(status, echoing_bodies()[shape], catalogue_fails=catalogue_fails) as api:
            the_index_meets_the_failing_upstream(designer, settings)
            shown = pages_against_a_failing_upstream(client, designer)
            assert api.calls, "no upstream call was made: the stubs were not exercised"
        for label, response in shown:
            assert response.status_code == expected_status(label, status, catalogue_fails), label
            assert_no_canary(response, label)
        # Control: the pages that draw the sync's news said what went wrong, where the key would ride.
        for label in ("GET /history/", "GET tray"):
            assert "the generation service cannot be reached" in dict(shown)[label].content.decode(), label

    def test_the_upstreams_own_words_still_reach_the_designer_without_the_key(self, echoing_api, client, designer):
        body = {"json": {"detail": f"The garment photo is too dark (Authorization: Bearer {CANARY})"}}
        with echoing_api(400, body, catalogue_fails=False):
            client.force_login(designer)
            response = client.post(
                "/",
                {
                    "tool": "fashion_swap",
                    "submission": new_token(),
                    "clothes": SimpleUploadedFile("dress.png", garment_photo(), "image/png"),
                    "person": SimpleUploadedFile("model.png", person_photo(fmt="PNG"), "image/png"),
                },
                headers=HTMX,
            )
        page = response.content.decode()
        assert "The garment photo is too dark" in page
        assert CANARY not in page

    def test_the_upstreams_own_words_reach_the_gallery_through_the_sync_without_the_key(
        self, echoing_api, client, designer, settings, transactional_db
    ):
        body = {"json": {"detail": f"History is read-only during maintenance (Authorization: Bearer {CANARY})"}}
        with echoing_api(400, body, catalogue_fails=False):
            the_index_meets_the_failing_upstream(designer, settings)
        client.force_login(designer)
        for response in (client.get("/history/"), client.get("/jobs/tray", headers=HTMX)):
            page = response.content.decode()
            assert "History is read-only during maintenance" in page
            assert CANARY not in page


class TestAFailedJobWhoseMessageCarriesTheKey:
    """A job's error text and extra fields come from the upstream as they are: the sync
    process reads them into the index (and the job's record), which the pages show."""

    def test_the_tray_gallery_and_detail_never_show_it(self, echoing_api, client, designer):
        item = {
            "id": ITEM_ID,
            "status": "error",
            "created_at": "2025-01-01T10:00:00Z",
            "error": f"Calling the renderer failed: Authorization: Bearer {CANARY}",
            "debug": {"headers": {"Authorization": f"Bearer {CANARY}"}, "key": CANARY},
            "note": f"key={CANARY}",
        }
        Job.objects.create(history_item_id=ITEM_ID, designer=designer, tool="fashion_swap")
        client.force_login(designer)
        with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
            api.get(f"{FAKE_API}/generation/tools", json=TOOLS)
            api.get(re.compile(rf"{re.escape(FAKE_API)}/generation/generationTypes\?.*"), json=TYPES)
            api.get(
                re.compile(rf"{re.escape(FAKE_API)}/user/generation-history\?.*status=pending.*"),
                json={"page": 1, "pages": 0, "total_count": 0, "items": []},
            )
            api.get(
                re.compile(rf"{re.escape(FAKE_API)}/user/generation-history\?.*"),
                json={"page": 1, "pages": 1, "total_count": 1, "items": [item]},
            )
            api.get(f"{FAKE_API}/user/generation-history/{ITEM_ID}", json=item)
            catch_up()  # the sync process reads the failed result: its error reaches the index
            read_by_the_sync = len(api.calls)
            shown = [
                ("tray", client.get("/jobs/tray", headers=HTMX)),
                ("home", client.get("/")),
                ("gallery", client.get("/history/")),
                ("gallery mine", client.get("/history/?mine=1")),
                ("poll", client.get(f"/history/poll?ids={ITEM_ID}", headers=HTMX)),
                ("detail", client.get(f"/history/{ITEM_ID}/")),
                ("lightbox", client.get(f"/history/{ITEM_ID}/", headers={**HTMX, "HX-Target": "lightbox"})),
            ]
            # The pages drew the result from the index: none of them read it upstream.
            assert not [call for call in api.calls[read_by_the_sync:] if "/generation-history" in call.request.url]
        for label, response in shown:
            assert response.status_code in (200, 286), label  # 286: htmx, stop polling
            assert_no_canary(response, label)
        # The upstream's own words reach the designer, without the key.
        for label in ("tray", "gallery", "detail"):
            assert "Calling the renderer failed" in dict(shown)[label].content.decode(), label


# --- An upstream that plants the key in its data, not only in its errors ---------------


def assert_no_key_in_any_form(response, where: str) -> None:
    """Nothing of the key can be read or decoded (base64, base32, hex, from any offset)
    from the body or the headers, as an attacker would try (tests/support/key_recovery.py)."""
    assert pieces_of_key(body_of(response).decode(errors="replace"), CANARY) == [], f"{where}: in the body"
    assert pieces_of_key(" ".join(header_values(response)), CANARY) == [], f"{where}: in a header"


def encoded_bearer(encode, extra: str = "") -> str:
    """The key as an upstream could wrap it: "Authorization: Bearer <key>", encoded, so the
    key starts at an offset inside the encoding's groups (`extra` moves it on)."""
    return encode(f"{extra}Authorization: Bearer {CANARY}".encode()).decode().rstrip("=")


def png_with_text(text: str) -> bytes:
    from io import BytesIO

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text)
    out = BytesIO()
    Image.new("RGB", (64, 80), (200, 180, 160)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


class TestAnUpstreamThatPlantsTheKeyInItsData:
    """Titles, ids, paths, free text and image metadata all come from the upstream: read by
    the sync process into the index and its catalogue, or by the pages that still ask it."""

    def planted(self) -> dict:
        import base64

        b64 = base64.b64encode(CANARY.encode()).decode()
        # An id the id pattern accepts, that decodes to the key (URL-safe base64 at an offset).
        encoded_id = encoded_bearer(base64.urlsafe_b64encode, "x")
        hex_text, b32_text = encoded_bearer(base64.b16encode), encoded_bearer(base64.b32encode, "xy")
        good_style = "c" * 24
        return {
            "tools": [
                {"group_tool": CANARY, "tool": "fashion_swap", "title": f"Fashion {CANARY}"},
                {"group_tool": "fashion", "tool": CANARY, "title": "A tool named like the key"},
                {"group_tool": "fashion", "tool": "lengerie", "title": f"Lengerie {encoded_bearer(base64.b64encode)}"},
            ],
            "styles": [
                {"id": CANARY, "title": "A style whose id is the key", "preview_url": "image/s/1.png"},
                {"id": good_style, "title": f"Studio {CANARY.upper()}", "preview_url": f"image/{CANARY}/s.png"},
            ],
            "good_style": good_style,
            "items": [
                {
                    "id": CANARY,
                    "status": "complete",
                    "generation_type": "fashion_swap",
                    "preview_url": "/image/a.png",
                    "stock_url": "/image/a.png",
                },
                {
                    "id": ITEM_ID,
                    "status": "complete",
                    "generation_type": CANARY,
                    "generation_type_id": CANARY,
                    "created_at": "2026-01-01T10:00:00Z",
                    "preview_url": f"/image/{CANARY}/p.png",
                    "stock_url": f"/image/{CANARY}/s.png",
                    "note": f"token {b64} / {CANARY[:20]}...",
                },
                {"id": "e" * 24, "status": "error", "error": f"Renderer refused key {CANARY.upper()} ({b64})"},
                {"id": "f" * 24, "status": "error", "error": f"Renderer refused ({hex_text}; {b32_text})"},
                {
                    "id": encoded_id,
                    "status": "complete",
                    "generation_type": "fashion_swap",
                    "error": encoded_bearer(base64.b64encode, "ab"),
                    "preview_url": f"/image/{encoded_id}/p.png",
                    "stock_url": f"/image/{encoded_id}/s.png",
                },
            ],
        }

    def test_no_page_image_or_download_shows_it_in_any_form(self, settings, client, designer):
        settings.GENAPI_BASE_URL = FAKE_API
        settings.GENAPI_API_KEY = CANARY
        settings.DEBUG = False
        data = self.planted()
        client.force_login(designer)
        Job.objects.create(history_item_id=ITEM_ID, designer=designer, tool="fashion_swap", status="pending")
        listing = {"page": 1, "pages": 1, "total_count": len(data["items"]), "items": data["items"]}
        with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
            api.get(f"{FAKE_API}/generation/tools", json=data["tools"])
            api.get(re.compile(rf"{re.escape(FAKE_API)}/generation/generationTypes\?.*"), json=data["styles"])
            api.get(re.compile(rf"{re.escape(FAKE_API)}/user/generation-history\?.*"), json=listing)
            for item in data["items"]:
                api.get(f"{FAKE_API}/user/generation-history/{item['id']}", json=item)
            api.get(
                re.compile(rf"{re.escape(FAKE_API)}/image/.*"),
                body=png_with_text(f"made with {CANARY}"),
                content_type="image/png",
            )
            catch_up()  # the sync process reads the planted history and catalogue into the index
            shown = [
                ("home", client.get("/")),
                ("workspace", client.get("/?tool=fashion_swap", headers={**HTMX, "HX-Target": "generate-workspace"})),
                ("tray", client.get("/jobs/tray", headers=HTMX)),
                ("gallery", client.get("/history/")),
                ("gallery mine", client.get("/history/?mine=1")),
                ("poll", client.get(f"/history/poll?ids={ITEM_ID}", headers=HTMX)),
                ("detail", client.get(f"/history/{ITEM_ID}/")),
                ("lightbox", client.get(f"/history/{ITEM_ID}/", headers={**HTMX, "HX-Target": "lightbox"})),
                ("preview", client.get(reverse("result_image", args=[ITEM_ID, "preview"]))),
                ("download", client.get(reverse("result_image", args=[ITEM_ID, "stock"]) + "?download=1")),
                ("style preview", client.get(reverse("style_preview", args=["fashion_swap", data["good_style"]]))),
            ]
            images_fetched = [call for call in api.calls if "/image/" in call.request.url]
        for label, response in shown:
            assert response.status_code in (200, 286), f"{label}: {response.status_code}"
            assert_no_key_in_any_form(response, label)
        # Positive controls: the pages did show the upstream's data, and images were proxied.
        assert "Studio" in shown[0][1].content.decode() and "Renderer refused key" in shown[3][1].content.decode()
        assert images_fetched and shown[8][1]["Content-Type"] == "image/png"
        assert shown[9][1]["Content-Disposition"].startswith("attachment")
