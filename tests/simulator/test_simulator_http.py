"""The simulator over a real socket: the contract the dashboard will be tested against.

One simulator process serves the whole module (jobs take 0.5 s). Tests that need a
clean slate make their own items and compare against a baseline instead of assuming
an empty history, because other tests in the module write to the same data dir.
"""

from __future__ import annotations

import io
import math
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from PIL import Image, ImageDraw

from tests.support.seed import SEED_TOOLS
from tests.support.simulator import SimulatorProcess, control_session
from tests.support.waiting import wait_until

READONLY_KEY = "sim-readonly-key"
DEFAULT_KNOBS: dict[str, Any] = {
    "job_seconds": 0.5,
    "fail_rate": 0.0,
    "latency_ms": 0,
    "error_rate": 0.0,
    "error_body": "json",
    "rate_limit": None,
    "bad_body": None,
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HEX24 = set("0123456789abcdef")


# --- Fixtures and helpers --------------------------------------------------------------


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    env = {"SIMULATOR_JOB_SECONDS": "0.5", "SIMULATOR_READONLY_KEYS": READONLY_KEY}
    with SimulatorProcess(tmp_path_factory.mktemp("simulator-data"), env=env) as process:
        yield process


@pytest.fixture(autouse=True)
def _reset_knobs(sim: SimulatorProcess) -> Iterator[None]:
    """Every test starts and ends with a running simulator and default knobs."""
    yield
    if not sim.running:
        sim.start()
    sim.configure(**DEFAULT_KNOBS)


def is_webp(data: bytes) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP"


def encode(image: Image.Image, image_format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def person_photo(image_format: str = "PNG") -> bytes:
    """Not flat: a vertical gradient backdrop with a figure on it."""
    image = Image.linear_gradient("L").resize((300, 420)).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse((120, 30, 180, 90), fill=(235, 190, 160))
    draw.rounded_rectangle((90, 95, 210, 260), radius=20, fill=(40, 60, 120))
    draw.rectangle((100, 260, 145, 400), fill=(30, 30, 30))
    draw.rectangle((155, 260, 200, 400), fill=(30, 30, 30))
    return encode(image, image_format)


def garment_photo() -> bytes:
    image = Image.new("RGB", (240, 240), "white")
    ImageDraw.Draw(image).polygon(
        [(60, 20), (180, 20), (230, 80), (180, 100), (180, 220), (60, 220), (60, 100), (10, 80)], fill=(200, 30, 60)
    )
    return encode(image, "PNG")


def flat_photo() -> bytes:
    return encode(Image.new("RGB", (300, 400), (128, 140, 150)), "JPEG")


class Api:
    """Tiny authenticated client for the simulator's upstream endpoints."""

    def __init__(self, sim: SimulatorProcess, key: str | None = None) -> None:
        self.base = sim.base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key or sim.api_key}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self.base + path, timeout=10, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.patch(self.base + path, timeout=10, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.delete(self.base + path, timeout=10, **kwargs)

    def create(self, tool: str = "fashion_swap", person: bytes | None = None, **data: str) -> str:
        files = {
            "clothes": ("clothes.png", garment_photo(), "image/png"),
            "person": ("person.png", person or person_photo(), "image/png"),
        }
        response = self.post("/generation/generate_image_v2/", data={"tool": tool, **data}, files=files)
        assert response.status_code == 200, response.text
        item_id: str = response.json()["history_item_id"]
        return item_id

    def item(self, item_id: str) -> dict[str, Any]:
        response = self.get(f"/user/generation-history/{item_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_final(self, item_id: str, timeout: float = 10.0) -> dict[str, Any]:
        def final() -> dict[str, Any] | None:
            item = self.item(item_id)
            return item if item["status"] != "pending" else None

        return wait_until(final, timeout=timeout, message=f"item {item_id} still pending")

    def history(self, **params: Any) -> dict[str, Any]:
        response = self.get("/user/generation-history", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def api(sim: SimulatorProcess) -> Api:
    return Api(sim)


def type_id(api: Api, tool: str, title: str) -> str:
    types = api.get("/generation/generationTypes", params={"tool": tool}).json()
    found: str = next(t["id"] for t in types if t["title"] == title)
    return found


# --- Catalogue ---------------------------------------------------------------------------


def test_tools_are_exactly_the_seed(api: Api) -> None:
    response = api.get("/generation/tools")
    assert response.status_code == 200
    assert response.json() == SEED_TOOLS


def test_generation_types_shape_and_previews(api: Api) -> None:
    for tool in (t["tool"] for t in SEED_TOOLS if t["tool"] != "default"):
        types = api.get("/generation/generationTypes", params={"tool": tool}).json()
        assert 2 <= len(types) <= 4, tool
        for gtype in types:
            assert set(gtype) == {"id", "title", "brand_url", "preview_url"}
            assert len(gtype["id"]) == 24 and set(gtype["id"]) <= HEX24
            assert gtype["preview_url"] == f"image/generation_type/{gtype['id']}.webp"
            assert gtype["brand_url"] is None or gtype["brand_url"].startswith("https://")
    first = api.get("/generation/generationTypes", params={"tool": "fashion_swap"}).json()
    assert [t["title"] for t in first] == ["Studio white", "Street style", "Catalogue"]
    preview = api.get("/" + first[0]["preview_url"])
    assert preview.status_code == 200
    assert preview.headers["content-type"] == "image/webp"
    assert is_webp(preview.content)
    assert Image.open(io.BytesIO(preview.content)).size == (256, 256)

    assert api.get("/generation/generationTypes", params={"tool": "default"}).json() == []


def test_unknown_tool(api: Api) -> None:
    response = api.get("/generation/generationTypes", params={"tool": "jetpack"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Unknown tool: jetpack"}

    missing = api.get("/generation/generationTypes")
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["query", "tool"]

    create = api.post(
        "/generation/generate_image_v2/", data={"tool": "jetpack"}, files={"image": ("a.png", person_photo())}
    )
    assert create.status_code == 400
    assert create.json() == {"detail": "Unknown tool: jetpack"}


# --- Auth ----------------------------------------------------------------------------------


def test_auth_missing_wrong_and_readonly(sim: SimulatorProcess, api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-key"}, {"Authorization": f"Basic {sim.api_key}"}):
        for path in ("/generation/tools", "/user/generation-history", "/image/generation_result/x.png"):
            response = requests.get(sim.base_url + path, headers=headers, timeout=10)
            assert response.status_code == 401, (headers, path)
            assert response.json() == {"detail": "Invalid or missing API key"}
            assert response.headers["WWW-Authenticate"] == "Bearer"

    readonly = Api(sim, READONLY_KEY)
    assert readonly.get("/generation/tools").status_code == 200
    assert readonly.get("/user/generation-history").status_code == 200
    item_id = api.create()
    forbidden = {"detail": "This API key's plan does not allow this operation"}
    create = readonly.post(
        "/generation/generate_image_v2/", data={"tool": "default"}, files={"image": ("a.png", person_photo())}
    )
    assert (create.status_code, create.json()) == (403, forbidden)
    like = readonly.patch(f"/user/generation-history/feedback/{item_id}", json={"like": True})
    assert (like.status_code, like.json()) == (403, forbidden)
    delete = readonly.delete(f"/user/generation-history/{item_id}")
    assert (delete.status_code, delete.json()) == (403, forbidden)
    assert api.item(item_id)["like"] is None


# --- Jobs ----------------------------------------------------------------------------------


def test_fashion_swap_job_completes_with_real_images(api: Api) -> None:
    garment_type = type_id(api, "fashion_swap", "Street style")
    response = api.post(
        "/generation/generate_image_v2/",
        data={"tool": "fashion_swap", "generation_type": garment_type, "unknown_extra": "ignored"},
        files={
            "clothes": ("clothes.png", garment_photo(), "image/png"),
            "person": ("person.jpg", person_photo("JPEG"), "image/jpeg"),
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    item_id = body["history_item_id"]
    assert len(item_id) == 24 and set(item_id) <= HEX24
    assert body == {
        "preview_image": f"image/generation_result/{item_id}.webp",
        "stock_image": f"image/generation_result/{item_id}.png",
        "history_item_id": item_id,
    }

    pending = api.item(item_id)
    assert pending["status"] == "pending"
    assert pending["preview_url"] is None and pending["stock_url"] is None and pending["finished_at"] is None
    assert pending["generation_type"] == "fashion_swap" and pending["generation_type_id"] == garment_type
    assert pending["created_at"].endswith("Z") and len(pending["created_at"]) == 20
    assert api.get(f"/image/generation_result/{item_id}.webp").status_code == 404
    missing = api.get(f"/image/generation_result/{item_id}.png")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Image not found"})

    done = api.wait_final(item_id, timeout=8)
    assert done["status"] == "complete", done
    assert done["error"] is None and done["finished_at"].endswith("Z")
    assert done["preview_url"] == f"/image/generation_result/{item_id}.webp"
    assert done["stock_url"] == f"/image/generation_result/{item_id}.png"

    preview = api.get(done["preview_url"])
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/webp"
    assert is_webp(preview.content)
    assert max(Image.open(io.BytesIO(preview.content)).size) <= 512
    stock = api.get(done["stock_url"])
    assert stock.status_code == 200 and stock.headers["content-type"] == "image/png"
    assert stock.content.startswith(PNG_MAGIC)
    # The composite is the person photo with the garment on it, so it keeps its size.
    assert Image.open(io.BytesIO(stock.content)).size == (300, 420)


def test_flat_person_photo_ends_in_error(api: Api) -> None:
    files = {"clothes": ("c.png", garment_photo()), "person": ("p.jpg", flat_photo())}
    item_id = api.post("/generation/generate_image_v2/", data={"tool": "fashion_swap"}, files=files).json()[
        "history_item_id"
    ]
    item = api.wait_final(item_id, timeout=8)
    assert item["status"] == "error"
    assert item["error"] == "No person was found in the model photo"
    assert item["preview_url"] is None and item["stock_url"] is None
    assert api.get(f"/image/generation_result/{item_id}.png").status_code == 404


def test_other_tools_complete(api: Api) -> None:
    photo = ("photo.png", person_photo())
    jobs = {
        "furniture": {"furniture": ("f.png", garment_photo()), "room": photo},
        "fabric": {"fabric": ("f.png", garment_photo()), "product": photo},
        "default": {"image": photo},
    }
    ids = {
        tool: api.post("/generation/generate_image_v2/", data={"tool": tool}, files=files).json()["history_item_id"]
        for tool, files in jobs.items()
    }
    for tool, item_id in ids.items():
        item = api.wait_final(item_id, timeout=8)
        assert (item["tool"], item["status"]) == (tool, "complete"), item


def test_fail_rate_knob(sim: SimulatorProcess, api: Api) -> None:
    sim.configure(fail_rate=1)
    item = api.wait_final(api.create(), timeout=8)
    assert (item["status"], item["error"]) == ("error", "The generation failed: processing error")


def test_corrupt_stored_input_fails_the_job_not_the_worker(sim: SimulatorProcess, api: Api) -> None:
    sim.configure(job_seconds=1.5)
    item_id = api.create()
    # Damage the stored inputs behind the simulator's back (its documented data layout).
    uploads = sim.data_dir / "images" / "uploads" / item_id
    for stored in uploads.iterdir():
        stored.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    item = api.wait_final(item_id, timeout=8)
    assert item["status"] == "error"
    assert item["error"].startswith("The generation failed")
    sim.configure(job_seconds=0.5)
    assert api.wait_final(api.create(), timeout=8)["status"] == "complete"  # the worker lives on


def test_missing_slots_are_all_listed(api: Api) -> None:
    response = api.post(
        "/generation/generate_image_v2/", data={"tool": "fashion_swap"}, files={"other": ("x.png", person_photo())}
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"loc": ["body", "clothes"], "msg": "Field required", "type": "missing"},
            {"loc": ["body", "person"], "msg": "Field required", "type": "missing"},
        ]
    }
    no_tool = api.post("/generation/generate_image_v2/", files={"image": ("x.png", person_photo())})
    assert no_tool.status_code == 422
    assert ["body", "tool"] in [error["loc"] for error in no_tool.json()["detail"]]


def test_invalid_image_and_foreign_generation_type(api: Api) -> None:
    gif = encode(Image.new("RGB", (20, 20), "red"), "GIF")
    response = api.post(
        "/generation/generate_image_v2/",
        data={"tool": "fashion_swap", "generation_type": type_id(api, "furniture", "Scandinavian")},
        files={"clothes": ("c.png", b"this is not an image"), "person": ("p.gif", gif)},
    )
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert {
        "loc": ["body", "generation_type"],
        "msg": "Unknown generation type for this tool",
        "type": "value_error",
    } in errors
    invalid = [e["loc"] for e in errors if e["msg"] == "Not a valid image (PNG, JPEG or WebP expected)"]
    assert invalid == [["body", "clothes"], ["body", "person"]]


# --- Listing -------------------------------------------------------------------------------


def test_listing_pagination_filters_and_order(sim: SimulatorProcess, api: Api) -> None:
    curtains = type_id(api, "fabric", "Curtains")
    baseline = api.history(generation_type=curtains, limit=100)["total_count"]
    fabric_files = {"fabric": ("f.png", garment_photo()), "product": ("p.png", person_photo())}

    def create() -> str:
        response = api.post(
            "/generation/generate_image_v2/", data={"tool": "fabric", "generation_type": curtains}, files=fabric_files
        )
        item_id: str = response.json()["history_item_id"]
        return item_id

    sim.configure(job_seconds=120)  # these two stay pending for the whole test
    first, second = create(), create()
    sim.configure(job_seconds=0)
    third = create()
    assert api.wait_final(third)["status"] == "complete"

    total = baseline + 3
    page1 = api.history(generation_type=curtains, limit=2)
    assert (page1["page"], page1["count"], page1["total_count"], page1["pages"]) == (1, 2, total, math.ceil(total / 2))
    assert [item["id"] for item in page1["items"]] == [third, second]  # newest first
    page2 = api.history(generation_type=curtains, limit=2, page=2)
    assert page2["items"][0]["id"] == first
    beyond = api.history(generation_type=curtains, limit=2, page=999)
    assert (beyond["count"], beyond["items"], beyond["total_count"], beyond["page"]) == (0, [], total, 999)

    by_tool = api.history(generation_type="fabric", limit=100)
    assert {first, second, third} <= {item["id"] for item in by_tool["items"]}
    assert all(item["tool"] == "fabric" for item in by_tool["items"])

    pending = api.history(generation_type=curtains, status="pending", limit=100)
    assert {first, second} <= {item["id"] for item in pending["items"]}
    assert all(item["status"] == "pending" for item in pending["items"])
    both = api.history(generation_type=curtains, status=["PENDING", "complete"], limit=100)
    assert {first, second, third} <= {item["id"] for item in both["items"]}

    stamps = [item["created_at"] for item in api.history(limit=100)["items"]]
    assert stamps == sorted(stamps, reverse=True)


def test_results_of_one_second_are_listed_by_id_whatever_their_fraction_of_it(sim: SimulatorProcess, api: Api) -> None:
    """A client sees times to the second only: the order within one second must follow
    from what it sees (the id), not from fractions it is never shown, or the dashboard's
    index could not list such results as the API does (the seed makes such pairs)."""
    second = 1_000_000_000  # 2001: the oldest of the module's history, so the last page
    ids = ["3b9aca00" + "0" * 15 + "1", "3b9aca00" + "0" * 15 + "2"]  # the lower id later in the second
    with sqlite3.connect(sim.data_dir / "simulator.sqlite3", timeout=10) as db:
        db.executemany(
            "INSERT INTO history (id, tool, status, created_at, due_at) VALUES (?, 'fabric', 'error', ?, ?)",
            [(ids[0], second + 0.9, second + 1), (ids[1], second + 0.1, second + 1)],
        )
    try:
        total = api.history(limit=1)["total_count"]
        last_two = [api.history(limit=1, page=page)["items"][0]["id"] for page in (total - 1, total)]
        assert last_two == [ids[1], ids[0]]
    finally:
        for item_id in ids:
            assert api.delete(f"/user/generation-history/{item_id}").status_code == 204


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"limit": 0}, ["query", "limit"]),
        ({"limit": 101}, ["query", "limit"]),
        ({"page": 0}, ["query", "page"]),
        ({"status": ["pending", "running"]}, ["query", "status"]),
    ],
)
def test_listing_rejects_bad_query(api: Api, params: dict[str, Any], loc: list[str]) -> None:
    response = api.get("/user/generation-history", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == loc


# --- Feedback and delete --------------------------------------------------------------------


def test_feedback(api: Api) -> None:
    item_id = api.create()
    response = api.patch(f"/user/generation-history/feedback/{item_id}", json={"like": True})
    assert (response.status_code, response.json()) == (200, {"id": item_id, "like": True})
    assert api.item(item_id)["like"] is True
    api.patch(f"/user/generation-history/feedback/{item_id}", json={"like": False})
    assert api.item(item_id)["like"] is False

    assert api.patch(f"/user/generation-history/feedback/{item_id}", json={"like": "maybe"}).status_code == 422
    assert api.patch(f"/user/generation-history/feedback/{item_id}", json={}).status_code == 422
    unknown = api.patch("/user/generation-history/feedback/000000000000000000000000", json={"like": True})
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Generation record not found"})


def test_delete(api: Api) -> None:
    item_id = api.create()
    api.wait_final(item_id)
    response = api.delete(f"/user/generation-history/{item_id}")
    assert response.status_code == 204
    assert response.content == b""
    gone = api.get(f"/user/generation-history/{item_id}")
    assert (gone.status_code, gone.json()) == (404, {"detail": "Generation record not found"})
    assert api.delete(f"/user/generation-history/{item_id}").status_code == 404
    assert api.get(f"/image/generation_result/{item_id}.png").status_code == 404


def test_odd_ids_are_404_not_crashes(api: Api) -> None:
    for odd in ("nope", "%00", "%E2%98%83", "x%2F..", "..%2F..%2Fgeneration%2Ftools", "a" * 500):
        assert api.get(f"/user/generation-history/{odd}").status_code == 404, odd
        assert api.delete(f"/user/generation-history/{odd}").status_code == 404, odd


# --- Persistence ----------------------------------------------------------------------------


def test_restart_keeps_state_and_finishes_jobs_due_while_down(sim: SimulatorProcess, api: Api) -> None:
    kept = api.create()
    api.patch(f"/user/generation-history/feedback/{kept}", json={"like": True})
    sim.configure(job_seconds=1)
    due_while_down = api.create()
    sim.stop()
    time.sleep(1.2)  # the job falls due while nothing runs
    sim.start()

    restarted = Api(sim)
    assert restarted.item(kept)["like"] is True
    assert restarted.wait_final(due_while_down, timeout=5)["status"] == "complete"
    assert sim.config()["job_seconds"] == 0.5  # runtime knobs go back to the environment's


# --- Fault injection and the request log -----------------------------------------------------


def test_latency_knob_holds_api_requests_but_never_control_paths(sim: SimulatorProcess, api: Api) -> None:
    # No stopwatch: while one API request is held by the added latency, control requests
    # are answered one after another, and the API request is still unanswered (the access
    # log records a request once it has been answered). Figures: bench/give_up_times.py.
    assert sim.configure(latency_ms=2000)["latency_ms"] == 2000
    sim.clear_requests()
    answered: list[int] = []
    held = threading.Thread(target=lambda: answered.append(api.get("/generation/tools").status_code))
    held.start()
    try:
        for _ in range(5):
            assert requests.get(f"{sim.base_url}/_simulator/health", timeout=5).json() == {"ok": True}
        assert answered == [], "the API request was answered before its added latency was over"
        assert sim.requests() == []
    finally:
        held.join(timeout=10)
    # Control: the held request was answered in the end, and the log did record it.
    assert answered == [200]
    assert [(entry["path"], entry["status"]) for entry in sim.requests()] == [("/generation/tools", 200)]


def test_injected_errors_json_and_html(sim: SimulatorProcess, api: Api) -> None:
    sim.configure(error_rate=1)
    response = api.get("/generation/tools")
    assert (response.status_code, response.json()) == (500, {"detail": "Internal processing error"})
    # Auth is checked before faults: a bad key still gets its 401.
    assert requests.get(f"{sim.base_url}/generation/tools", timeout=5).status_code == 401

    sim.configure(error_body="html")
    response = api.get("/user/generation-history")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == "<html><body><h1>502 Bad Gateway</h1></body></html>"
    assert requests.get(f"{sim.base_url}/_simulator/health", timeout=5).json() == {"ok": True}


def test_bad_body_html_and_truncated_json(sim: SimulatorProcess, api: Api) -> None:
    total_before = api.history()["total_count"]
    assert sim.config()["bad_body"] is None
    assert sim.configure(bad_body="html")["bad_body"] == "html"
    response = api.get("/generation/tools")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == "<html><body><h1>Welcome to nginx!</h1></body></html>"
    # Writes too: the endpoint is never reached, so no job is created behind the page.
    files = {"clothes": ("c.png", garment_photo(), "image/png"), "person": ("p.png", person_photo(), "image/png")}
    created = api.post("/generation/generate_image_v2/", data={"tool": "fashion_swap"}, files=files)
    assert created.status_code == 200 and created.headers["content-type"].startswith("text/html")
    # Auth still comes first, and control paths are untouched.
    assert requests.get(f"{sim.base_url}/generation/tools", timeout=5).status_code == 401
    assert requests.get(f"{sim.base_url}/_simulator/health", timeout=5).json() == {"ok": True}

    sim.configure(bad_body="json")
    response = api.get("/user/generation-history")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.text == '{"items": [{"id": "abc", "sta'
    with pytest.raises(ValueError):
        response.json()

    assert sim.configure(bad_body=None)["bad_body"] is None
    assert api.get("/generation/tools").json() == SEED_TOOLS
    assert api.history()["total_count"] == total_before
    invalid = requests.patch(f"{sim.base_url}/_simulator/config", json={"bad_body": "xml"}, timeout=5)
    assert invalid.status_code == 422


def test_rate_limit(sim: SimulatorProcess, api: Api) -> None:
    sim.configure(rate_limit="3/30")
    assert [api.get("/generation/tools").status_code for _ in range(3)] == [200, 200, 200]
    limited = api.get("/generation/tools")
    assert limited.status_code == 429
    assert limited.json() == {"detail": "Rate limit exceeded"}
    assert 1 <= int(limited.headers["Retry-After"]) <= 30
    assert sim.config()["rate_limit"] == "3/30"  # control paths are not rate limited
    sim.configure(rate_limit=None)
    assert api.get("/generation/tools").status_code == 200


def test_request_log_records_raw_paths(sim: SimulatorProcess, api: Api) -> None:
    sim.clear_requests()
    api.get("/user/generation-history/..%2F..%2Fgeneration%2Ftools")
    api.get("/user/generation-history", params={"status": ["pending", "error"], "limit": 5})
    sim.config()
    log = sim.requests()
    assert [(entry["method"], entry["path"], entry["query"], entry["status"]) for entry in log] == [
        ("GET", "/user/generation-history/..%2F..%2Fgeneration%2Ftools", "", 404),
        ("GET", "/user/generation-history", "status=pending&status=error&limit=5", 200),
    ]
    assert log[0]["seq"] < log[1]["seq"]
    assert not any(entry["path"] == "/generation/tools" for entry in log)


# --- Seeding --------------------------------------------------------------------------------


def test_seed_while_running(sim: SimulatorProcess, api: Api) -> None:
    before = api.history()["total_count"]
    sim.seed(50)  # how long it takes: bench/give_up_times.py
    listing = api.history(limit=100)
    assert listing["total_count"] == before + 50
    statuses = {item["status"] for item in listing["items"]}
    assert {"complete", "error", "pending"} <= statuses
    # Seeded items lie in the past 30 days, so the oldest complete one on the page is seeded.
    oldest_complete = [item for item in listing["items"] if item["status"] == "complete"][-1]
    preview = api.get(oldest_complete["preview_url"])
    assert preview.status_code == 200 and is_webp(preview.content)


def test_an_answered_request_is_in_the_log_as_soon_as_the_client_has_it(sim: SimulatorProcess, api: Api) -> None:
    # The entry is written after the answer is sent (here 300 ms after); reading or
    # clearing the log waits for it, so a test that clears the log after a call never sees
    # that call land late, and one that reads it right after a call finds it.
    sim.configure(log_delay_ms=300)
    sim.clear_requests()
    try:
        assert api.get("/generation/tools").status_code == 200
        assert [entry["path"] for entry in sim.requests()] == ["/generation/tools"]
        assert api.get("/generation/tools").status_code == 200
        sim.clear_requests()
        assert api.get("/user/generation-history").status_code == 200
        assert [entry["path"] for entry in sim.requests()] == ["/user/generation-history"]
    finally:
        sim.configure(log_delay_ms=0)


def test_it_starts_where_a_deployment_exports_web_concurrency(tmp_path):
    # WEB_CONCURRENCY is for the web processes; uvicorn read it too and refused to start.
    with SimulatorProcess(tmp_path, env={"WEB_CONCURRENCY": "3"}) as process:
        assert requests.get(f"{process.base_url}/user/generation-history", headers=process.headers, timeout=5).ok


def test_a_control_call_whose_connection_closed_unanswered_is_sent_again() -> None:
    """What a kept-alive connection the server closes as idle, just as a call is sent on
    it, looks like: the request goes out and the connection closes without an answer."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        with listener:
            for answer in (b"", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"):
                connection, _ = listener.accept()
                with connection:
                    connection.recv(65536)
                    connection.sendall(answer)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    response = control_session().patch(f"http://127.0.0.1:{port}/_simulator/config", json={"latency_ms": 0}, timeout=5)
    assert response.json() == {}
    server.join(timeout=5)
