"""The generation API client (dashboard.genapi) against stubbed HTTP.

Every upstream call is stubbed with `responses`; an unregistered request fails the test.
The shapes follow shared/api-contract.md: the documented examples, and the variations
the contract says the dashboard must tolerate.
"""

from __future__ import annotations

import copy
import io
import json
import logging
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from dashboard import genapi
from dashboard.management.commands.genapi_check import check_openapi
from tests.support.seed import SEED_TOOLS
from tests.support.waiting import record_sleeps

pytestmark = pytest.mark.postgres_redis

BASE = "http://genapi.test"
KEY = "test-api-key"

TOOLS_URL = f"{BASE}/generation/tools"
TYPES_URL = f"{BASE}/generation/generationTypes"
JOB_URL = f"{BASE}/generation/generate_image_v2/"
HISTORY_URL = f"{BASE}/user/generation-history"
FEEDBACK_URL = f"{BASE}/user/generation-history/feedback"


DOCUMENTED_ITEM = {
    "id": "5f8d0d55b54764421b7156c5",
    "generation_type": "fashion_swap",
    "status": "complete",
    "created_at": "2026-03-24T10:15:00Z",
    "preview_url": "/image/generation_result/preview.webp",
    "stock_url": "/image/generation_result/stock.png",
    "like": True,
}

# The vendor's own (inconsistent) example: count 1, yet 12 pages of 12 items.
DOCUMENTED_LISTING = {"page": 1, "count": 1, "total_count": 12, "pages": 12, "items": [DOCUMENTED_ITEM]}

HOSTILE_IDS = [
    pytest.param("../x", id="dot-dot"),
    pytest.param("..%2F..%2Fgeneration%2Ftools", id="encoded-traversal"),
    pytest.param("x%2F..", id="encoded-slash"),
    pytest.param("a/b", id="slash"),
    pytest.param("#frag", id="fragment"),
    pytest.param("?q=1", id="query"),
    pytest.param("", id="empty"),
    pytest.param("a" * 10_000, id="10000-chars"),
    pytest.param("é", id="unicode"),
    pytest.param(None, id="none"),
]


@pytest.fixture
def rsps():
    """Stubbed HTTP: unregistered requests raise, and every registered stub must be used."""
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def api():
    return genapi.GenApiClient(BASE, KEY, read_retries=0)


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Seconds of every time.sleep() call; nothing is really slept."""
    return record_sleeps(monkeypatch, really=False)


def make_api(read_retries: int) -> genapi.GenApiClient:
    return genapi.GenApiClient(BASE, KEY, read_retries=read_retries)


def query_of(call) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(call.request.url).query, keep_blank_values=True)


def listing_of(rsps, api, items: list) -> list[genapi.HistoryItem]:
    rsps.get(HISTORY_URL, json={"page": 1, "pages": 1, "total_count": len(items), "items": items})
    return api.history().items


def body_bytes(request) -> bytes:
    """The request body as bytes, also when it is a streamed MultipartEncoder."""
    body = request.body
    if hasattr(body, "to_string"):
        return body.to_string()
    if hasattr(body, "read"):
        return body.read()
    return body.encode() if isinstance(body, str) else body


def upload(slot: str, data: bytes, filename: str | None = None) -> genapi.UploadFile:
    return genapi.UploadFile(
        slot=slot, filename=filename or f"{slot}.png", fileobj=io.BytesIO(data), content_type="image/png"
    )


# --- 1. GET /generation/tools ---------------------------------------------------------


class TestTools:
    def test_the_seed_nine_tools_are_parsed_in_order(self, rsps, api):
        rsps.get(TOOLS_URL, json=SEED_TOOLS)

        tools = api.tools()

        assert len(tools) == 9
        assert tools[0] == genapi.Tool(name="lego_clothes", title="Lego Clothes", group="fashion")
        assert genapi.Tool(name="lengerie", title="Lengerie", group="fashion") in tools
        assert genapi.Tool(name="furniture", title="Furniture", group="interior") in tools
        assert genapi.Tool(name="fabric", title="Fabric", group="textile") in tools
        assert tools[-1] == genapi.Tool(name="default", title="Default", group="default")
        assert [t.name for t in tools if t.group == "fashion"] == [
            "lego_clothes",
            "mamasfit",
            "lengerie",
            "fashion_card",
            "fashion_swap",
            "fashion_swap_half",
        ]

    def test_tools_without_title_or_group_are_tolerated(self, rsps, api):
        rsps.get(TOOLS_URL, json=[{"tool": "fashion_swap"}, {"tool": "fabric", "title": None, "group_tool": None}])

        tools = api.tools()

        assert [t.name for t in tools] == ["fashion_swap", "fabric"]
        assert all(t.title and t.group for t in tools)
        assert tools[0].title == "Fashion Swap"
        assert tools[0].group == "default"

    def test_entries_without_a_tool_name_are_skipped(self, rsps, api):
        rsps.get(
            TOOLS_URL,
            json=[{"title": "Nameless"}, "junk", 3, {"tool": "fabric", "title": "Fabric", "group_tool": "textile"}],
        )

        assert [t.name for t in api.tools()] == ["fabric"]

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param("not a list", id="json-string"),
            pytest.param(42, id="json-number"),
            pytest.param({"detail": "something odd"}, id="object-without-list"),
        ],
    )
    def test_a_body_that_is_not_a_list_is_an_upstream_error(self, rsps, api, body):
        rsps.get(TOOLS_URL, json=body)

        with pytest.raises(genapi.UpstreamError):
            api.tools()

    def test_a_body_that_is_not_json_is_an_upstream_error(self, rsps, api):
        rsps.get(TOOLS_URL, body="<html>oops</html>", content_type="text/html")

        with pytest.raises(genapi.UpstreamError) as excinfo:
            api.tools()
        assert "<" not in excinfo.value.message


class TestCachedTools:
    def test_two_calls_cost_one_upstream_read(self, rsps):
        rsps.get(TOOLS_URL, json=SEED_TOOLS)

        first = genapi.tools()
        second = genapi.tools()

        assert len(rsps.calls) == 1
        assert first == second
        assert len(second) == 9


# --- 2. GET /generation/generationTypes -----------------------------------------------


class TestStyles:
    def test_a_bare_list_of_documented_objects(self, rsps, api):
        rsps.get(
            TYPES_URL,
            json=[
                {
                    "id": "65f1c0ffee0ddba11ca7f00d",
                    "title": "Summer",
                    "brand_url": "https://brand.example/summer",
                    "preview_url": "image/types/summer.webp",
                }
            ],
        )

        types = api.styles("fashion_swap")

        assert types == [
            genapi.Style(
                id="65f1c0ffee0ddba11ca7f00d",
                title="Summer",
                tool="fashion_swap",
                preview_path="image/types/summer.webp",
                brand_url="https://brand.example/summer",
            )
        ]

    def test_the_tool_is_sent_as_a_query_parameter(self, rsps, api):
        rsps.get(TYPES_URL, json=[])

        api.styles("fashion_swap")

        assert query_of(rsps.calls[0]) == [("tool", "fashion_swap")]

    def test_missing_brand_url_and_preview_url_are_tolerated(self, rsps, api):
        rsps.get(TYPES_URL, json=[{"id": "65f1c0ffee0ddba11ca7f00d", "title": "Plain"}])

        (only,) = api.styles("fashion_swap")

        assert only.id == "65f1c0ffee0ddba11ca7f00d"
        assert only.title == "Plain"
        assert only.preview_path is None
        assert only.brand_url is None

    def test_extra_fields_are_ignored(self, rsps, api):
        rsps.get(
            TYPES_URL,
            json=[{"id": "t1", "title": "One", "preview_url": "/p.webp", "order": 3, "tags": ["a"], "meta": {"x": 1}}],
        )

        assert api.styles("fabric") == [
            genapi.Style(id="t1", title="One", tool="fabric", preview_path="/p.webp", brand_url=None)
        ]

    def test_an_empty_list_means_no_types(self, rsps, api):
        rsps.get(TYPES_URL, json=[])

        assert api.styles("default") == []


# --- 5. GET /user/generation-history (listing) -----------------------------------------


class TestHistoryListing:
    def test_the_documented_envelope_trusts_pages_and_total_count_not_count(self, rsps, api):
        rsps.get(HISTORY_URL, json=DOCUMENTED_LISTING)

        page = api.history(page=1, limit=10)

        assert page.page == 1
        assert page.pages == 12
        assert page.total_count == 12
        assert page.has_next is True
        assert page.has_previous is False
        assert [item.id for item in page.items] == ["5f8d0d55b54764421b7156c5"]

    def test_the_documented_item_is_read_in_full(self, rsps, api):
        rsps.get(HISTORY_URL, json=DOCUMENTED_LISTING)

        (item,) = api.history().items

        assert item.id == "5f8d0d55b54764421b7156c5"
        assert item.status == "complete" and item.is_complete
        assert item.tool == "fashion_swap"
        assert item.created_at == datetime(2026, 3, 24, 10, 15, tzinfo=UTC)
        assert item.preview_path == "/image/generation_result/preview.webp"
        assert item.stock_path == "/image/generation_result/stock.png"
        assert item.like is True
        assert item.error_message is None
        assert item.extra == {}

    def test_a_bare_full_list_means_there_may_be_a_next_page(self, rsps, api):
        items = [{**DOCUMENTED_ITEM, "id": f"item{n}"} for n in range(5)]
        rsps.get(HISTORY_URL, json=items)

        page = api.history(page=2, limit=5)

        assert len(page.items) == 5
        assert page.page == 2
        assert page.has_next is True
        assert page.has_previous is True
        assert page.total_count is None

    def test_a_bare_short_list_is_the_last_page(self, rsps, api):
        rsps.get(HISTORY_URL, json=[DOCUMENTED_ITEM])

        page = api.history(page=1, limit=5)

        assert page.has_next is False
        assert page.pages == 1

    def test_statuses_are_sent_as_a_repeated_parameter(self, rsps, api):
        rsps.get(HISTORY_URL, json=[])

        api.history(statuses=["pending", "complete"])

        assert "status=pending&status=complete" in rsps.calls[0].request.url

    def test_page_limit_and_generation_type_are_sent(self, rsps, api):
        rsps.get(HISTORY_URL, json=[])

        api.history(page=3, limit=20, statuses=["complete"], style_id="65f1c0ffee0ddba11ca7f00d")

        assert sorted(query_of(rsps.calls[0])) == sorted(
            [("page", "3"), ("limit", "20"), ("generation_type", "65f1c0ffee0ddba11ca7f00d"), ("status", "complete")]
        )

    @pytest.mark.parametrize(
        ("asked", "sent"), [(500, "100"), (101, "100"), (0, "1"), (-5, "1"), (100, "100"), (1, "1")]
    )
    def test_limit_is_clamped_to_1_to_100(self, rsps, api, asked, sent):
        rsps.get(HISTORY_URL, json=[])

        page = api.history(limit=asked)

        assert dict(query_of(rsps.calls[0]))["limit"] == sent
        assert page.limit == int(sent)

    def test_unknown_status_filters_are_dropped(self, rsps, api):
        rsps.get(HISTORY_URL, json=[])

        api.history(statuses=["pending", "processing", "bogus", "error"])

        assert [value for name, value in query_of(rsps.calls[0]) if name == "status"] == ["pending", "error"]

    def test_a_body_that_is_neither_list_nor_envelope_is_an_upstream_error(self, rsps, api):
        rsps.get(HISTORY_URL, json="nope")

        with pytest.raises(genapi.UpstreamError):
            api.history()


# --- The history item, read tolerantly --------------------------------------------------


class TestHistoryItemIds:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            pytest.param("5f8d0d55b54764421b7156c5", "5f8d0d55b54764421b7156c5", id="objectid"),
            pytest.param("0b9a4a36-0c5f-4a0e-9a43-5d0f0b2b7e1c", "0b9a4a36-0c5f-4a0e-9a43-5d0f0b2b7e1c", id="uuid"),
            pytest.param("gfd41688fhgf", "gfd41688fhgf", id="vendor-example"),
            pytest.param(12345, "12345", id="integer"),
        ],
    )
    def test_ids_of_every_seen_shape_are_kept_as_strings(self, rsps, api, raw, expected):
        (item,) = listing_of(rsps, api, [{**DOCUMENTED_ITEM, "id": raw}])

        assert item.id == expected
        assert isinstance(item.id, str)

    def test_items_without_an_id_are_skipped(self, rsps, api):
        items = listing_of(
            rsps,
            api,
            [{"status": "complete"}, {**DOCUMENTED_ITEM, "id": None}, {**DOCUMENTED_ITEM, "id": ""}, DOCUMENTED_ITEM],
        )

        assert [item.id for item in items] == ["5f8d0d55b54764421b7156c5"]


class TestHistoryItemFields:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            pytest.param(True, True, id="true"),
            pytest.param(False, False, id="false"),
            pytest.param(None, None, id="null"),
            pytest.param("yes", None, id="not-a-bool"),
            pytest.param(1, None, id="integer"),
        ],
    )
    def test_like(self, rsps, api, raw, expected):
        (item,) = listing_of(rsps, api, [{**DOCUMENTED_ITEM, "like": raw}])

        assert item.like is expected

    def test_a_missing_like_means_no_feedback_yet(self, rsps, api):
        raw = {k: v for k, v in DOCUMENTED_ITEM.items() if k != "like"}
        (item,) = listing_of(rsps, api, [raw])

        assert item.like is None

    @pytest.mark.parametrize("raw_status", ["processing", "QUEUED", "running", ""])
    def test_unknown_statuses_read_as_pending_with_the_raw_value_kept(self, rsps, api, raw_status):
        (item,) = listing_of(rsps, api, [{**DOCUMENTED_ITEM, "status": raw_status}])

        assert item.status == "pending"
        assert item.is_pending
        if raw_status:
            assert item.raw_status == raw_status

    def test_a_missing_status_reads_as_pending(self, rsps, api):
        raw = {k: v for k, v in DOCUMENTED_ITEM.items() if k != "status"}
        (item,) = listing_of(rsps, api, [raw])

        assert item.status == "pending"

    @pytest.mark.parametrize(
        ("raw_status", "expected"), [("COMPLETE", "complete"), ("Error", "error"), ("PENDING", "pending")]
    )
    def test_statuses_are_case_insensitive(self, rsps, api, raw_status, expected):
        (item,) = listing_of(rsps, api, [{**DOCUMENTED_ITEM, "status": raw_status}])

        assert item.status == expected
        assert item.raw_status == raw_status

    @pytest.mark.parametrize(
        "stamp", ["2026-03-24T10:15:00Z", "2026-03-24T10:15:00+00:00", "2026-03-24T12:15:00+02:00"]
    )
    def test_created_at_is_parsed_timezone_aware(self, rsps, api, stamp):
        (item,) = listing_of(rsps, api, [{**DOCUMENTED_ITEM, "created_at": stamp}])

        assert item.created_at is not None
        assert item.created_at.tzinfo is not None
        assert item.created_at == datetime(2026, 3, 24, 10, 15, tzinfo=UTC)

    @pytest.mark.parametrize("stamp", [None, "", "yesterday", "2026-13-45T99:00:00Z", 1711275300, ["2026"]])
    def test_an_unparsable_created_at_is_none(self, rsps, api, stamp):
        (item,) = listing_of(rsps, api, [{**DOCUMENTED_ITEM, "created_at": stamp}])

        assert item.created_at is None

    def test_a_missing_created_at_is_none(self, rsps, api):
        raw = {k: v for k, v in DOCUMENTED_ITEM.items() if k != "created_at"}
        (item,) = listing_of(rsps, api, [raw])

        assert item.created_at is None

    def test_pending_items_have_no_image_paths_yet(self, rsps, api):
        (item,) = listing_of(rsps, api, [{"id": "abc", "status": "pending"}])

        assert item.preview_path is None
        assert item.stock_path is None
        assert item.tool is None

    def test_extra_fields_are_kept(self, rsps, api):
        (item,) = listing_of(
            rsps, api, [{**DOCUMENTED_ITEM, "seed": 42, "prompt": {"text": "red dress"}, "model": "v2"}]
        )

        assert item.extra == {"seed": 42, "prompt": {"text": "red dress"}, "model": "v2"}

    def test_error_items_carry_their_error_message(self, rsps, api):
        (item,) = listing_of(rsps, api, [{"id": "abc", "status": "error", "error": "No person detected in the photo"}])

        assert item.is_error
        assert item.error_message == "No person detected in the photo"

    def test_an_error_without_any_message_has_none(self, rsps, api):
        (item,) = listing_of(rsps, api, [{"id": "abc", "status": "error"}])

        assert item.is_error
        assert item.error_message is None


# --- 4. GET /user/generation-history/{id} ---------------------------------------------


class TestHistoryItemRead:
    def test_reads_one_item(self, rsps, api):
        rsps.get(f"{HISTORY_URL}/5f8d0d55b54764421b7156c5", json=DOCUMENTED_ITEM)

        item = api.history_item("5f8d0d55b54764421b7156c5")

        assert item.id == "5f8d0d55b54764421b7156c5"
        assert item.is_complete

    def test_an_item_wrapped_in_an_envelope_is_read(self, rsps, api):
        rsps.get(f"{HISTORY_URL}/abc", json={"item": {**DOCUMENTED_ITEM, "id": "abc"}})

        assert api.history_item("abc").id == "abc"

    def test_an_unreadable_record_is_an_upstream_error(self, rsps, api):
        rsps.get(f"{HISTORY_URL}/abc", json={"nothing": "useful"})

        with pytest.raises(genapi.UpstreamError):
            api.history_item("abc")

    def test_a_gone_item_is_not_found(self, rsps, api):
        rsps.get(f"{HISTORY_URL}/abc", status=404, json={"detail": "Not found"})

        with pytest.raises(genapi.NotFound):
            api.history_item("abc")

    @pytest.mark.parametrize(
        ("item_id", "path"),
        [
            ("5f8d0d55b54764421b7156c5", "/user/generation-history/5f8d0d55b54764421b7156c5"),
            ("0b9a4a36-0c5f-4a0e-9a43-5d0f0b2b7e1c", "/user/generation-history/0b9a4a36-0c5f-4a0e-9a43-5d0f0b2b7e1c"),
            ("gfd41688fhgf", "/user/generation-history/gfd41688fhgf"),
            ("a_b-C9", "/user/generation-history/a_b-C9"),
            (42, "/user/generation-history/42"),
        ],
    )
    def test_valid_ids_become_exactly_one_path_segment(self, rsps, api, item_id, path):
        rsps.get(f"{BASE}{path}", json={**DOCUMENTED_ITEM, "id": str(item_id)})

        api.history_item(item_id)

        sent = urlsplit(rsps.calls[0].request.url)
        assert sent.path == path
        assert sent.query == ""


# --- Ids in URLs -------------------------------------------------------------------------


class TestHostileIds:
    @pytest.mark.parametrize("item_id", HOSTILE_IDS)
    def test_history_item_refuses_without_calling_upstream(self, rsps, api, item_id):
        with pytest.raises(genapi.InvalidId):
            api.history_item(item_id)
        assert len(rsps.calls) == 0

    @pytest.mark.parametrize("item_id", HOSTILE_IDS)
    def test_set_feedback_refuses_without_calling_upstream(self, rsps, api, item_id):
        with pytest.raises(genapi.InvalidId):
            api.set_feedback(item_id, True)
        assert len(rsps.calls) == 0

    @pytest.mark.parametrize("item_id", HOSTILE_IDS)
    def test_delete_refuses_without_calling_upstream(self, rsps, api, item_id):
        with pytest.raises(genapi.InvalidId):
            api.delete(item_id)
        assert len(rsps.calls) == 0

    def test_an_invalid_id_is_a_kind_of_not_found(self, rsps, api):
        with pytest.raises(genapi.NotFound):
            api.delete("../x")
        assert issubclass(genapi.InvalidId, genapi.NotFound)

    @pytest.mark.parametrize("value", ["../x", "a/b", "", None, True])
    def test_hostile_generation_type_filters_are_refused(self, rsps, api, value):
        if value in ("", None):
            # No filter at all is a valid request.
            rsps.get(HISTORY_URL, json=[])
            api.history(style_id=value)
            assert "generation_type" not in dict(query_of(rsps.calls[0]))
        else:
            with pytest.raises(genapi.InvalidId):
                api.history(style_id=value)
            assert len(rsps.calls) == 0


# --- 3. POST /generation/generate_image_v2/ ---------------------------------------------


DOCUMENTED_JOB = {
    "preview_image": "image/generation_result/image_2.webp",
    "stock_image": "image/generation_result/image_3.png",
    "history_item_id": "gfd41688fhgf",
}


class TestCreateJob:
    def test_sends_a_multipart_body_with_tool_style_and_files_under_their_slots(self, rsps, api):
        rsps.post(JOB_URL, json=DOCUMENTED_JOB)

        api.create_job(
            "fashion_swap",
            [upload("clothes", b"CLOTHES-PIXELS"), upload("person", b"PERSON-PIXELS")],
            style_id="65f1c0ffee0ddba11ca7f00d",
        )

        request = rsps.calls[0].request
        assert request.method == "POST"
        assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
        body = body_bytes(request)
        assert b'name="tool"\r\n\r\nfashion_swap\r\n' in body
        assert b'name="generation_type"\r\n\r\n65f1c0ffee0ddba11ca7f00d\r\n' in body
        assert b'name="clothes"; filename="clothes.png"' in body
        assert b'name="person"; filename="person.png"' in body
        assert b"CLOTHES-PIXELS" in body
        assert b"PERSON-PIXELS" in body
        # Each file sits under its own slot.
        assert body.index(b'name="clothes"') < body.index(b"CLOTHES-PIXELS") < body.index(b'name="person"')
        assert body.index(b'name="person"') < body.index(b"PERSON-PIXELS")

    def test_without_a_generation_type_none_is_sent(self, rsps, api):
        rsps.post(JOB_URL, json=DOCUMENTED_JOB)

        api.create_job("fabric", [upload("fabric", b"X")])

        assert b'name="generation_type"' not in body_bytes(rsps.calls[0].request)

    def test_a_file_already_read_is_sent_whole(self, rsps, api):
        rsps.post(JOB_URL, json=DOCUMENTED_JOB)
        clothes = upload("clothes", b"WHOLE-FILE")
        clothes.fileobj.read()

        api.create_job("fashion_swap", [clothes])

        assert b"WHOLE-FILE" in body_bytes(rsps.calls[0].request)

    def test_the_documented_response_is_parsed(self, rsps, api):
        rsps.post(JOB_URL, json=DOCUMENTED_JOB)

        job = api.create_job("fashion_swap", [upload("clothes", b"C"), upload("person", b"P")])

        assert job == genapi.JobCreated(
            history_item_id="gfd41688fhgf",
            preview_path="image/generation_result/image_2.webp",
            stock_path="image/generation_result/image_3.png",
        )

    def test_a_201_with_only_an_id_is_fine(self, rsps, api):
        rsps.post(JOB_URL, status=201, json={"history_item_id": 987})

        job = api.create_job("fashion_swap", [upload("person", b"P")])

        assert job.history_item_id == "987"
        assert job.preview_path is None

    @pytest.mark.parametrize("status", [500, 502, 503])
    def test_a_server_error_is_never_retried(self, rsps, status):
        rsps.post(JOB_URL, status=status, json={"detail": "boom"})

        with pytest.raises(genapi.UpstreamError):
            make_api(read_retries=3).create_job("fashion_swap", [upload("person", b"P")])
        assert len(rsps.calls) == 1

    @pytest.mark.parametrize("retry_after", ["0", "120"])
    def test_a_rate_limit_is_never_retried(self, rsps, retry_after):
        rsps.post(JOB_URL, status=429, headers={"Retry-After": retry_after}, json={"detail": "slow down"})

        with pytest.raises(genapi.RateLimited):
            make_api(read_retries=3).create_job("fashion_swap", [upload("person", b"P")])
        assert len(rsps.calls) == 1

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param({}, id="empty-object"),
            pytest.param({"history_item_id": None}, id="null-id"),
            pytest.param({"history_item_id": ""}, id="empty-id"),
            pytest.param({"history_item_id": "../../generation/tools"}, id="traversal-id"),
            pytest.param({"history_item_id": "a/b"}, id="slash-id"),
            pytest.param({"history_item_id": {"oid": "x"}}, id="object-id"),
            pytest.param([DOCUMENTED_JOB], id="list"),
        ],
    )
    def test_a_response_without_a_usable_id_is_an_upstream_error(self, rsps, api, body):
        rsps.post(JOB_URL, json=body)

        with pytest.raises(genapi.UpstreamError):
            api.create_job("fashion_swap", [upload("person", b"P")])

    def test_a_non_json_response_is_an_upstream_error(self, rsps, api):
        rsps.post(JOB_URL, body="queued!", content_type="text/plain")

        with pytest.raises(genapi.UpstreamError):
            api.create_job("fashion_swap", [upload("person", b"P")])

    def test_a_hostile_tool_or_generation_type_is_never_sent(self, rsps, api):
        with pytest.raises(genapi.InvalidId):
            api.create_job("../tools", [upload("person", b"P")])
        with pytest.raises(genapi.InvalidId):
            api.create_job("fashion_swap", [upload("person", b"P")], style_id="a/b")
        assert len(rsps.calls) == 0


# --- 6. PATCH /user/generation-history/feedback/{id} -------------------------------------


class TestFeedback:
    @pytest.mark.parametrize("like", [True, False])
    def test_sends_like_as_json(self, rsps, api, like):
        rsps.patch(f"{FEEDBACK_URL}/5f8d0d55b54764421b7156c5", json={})

        assert api.set_feedback("5f8d0d55b54764421b7156c5", like) is None

        request = rsps.calls[0].request
        assert request.method == "PATCH"
        assert urlsplit(request.url).path == "/user/generation-history/feedback/5f8d0d55b54764421b7156c5"
        assert request.headers["Content-Type"] == "application/json"
        assert json.loads(request.body) == {"like": like}

    @pytest.mark.parametrize(
        ("status", "kwargs"),
        [
            pytest.param(200, {"body": ""}, id="empty-200"),
            pytest.param(204, {}, id="no-content"),
            pytest.param(200, {"body": "OK", "content_type": "text/plain"}, id="not-json"),
            pytest.param(200, {"json": {**DOCUMENTED_ITEM, "like": False}}, id="json-item"),
            pytest.param(200, {"json": {"updated": True}}, id="json-other"),
        ],
    )
    def test_undocumented_response_bodies_are_all_fine(self, rsps, api, status, kwargs):
        rsps.patch(f"{FEEDBACK_URL}/abc", status=status, **kwargs)

        assert api.set_feedback("abc", False) is None

    def test_feedback_on_a_gone_item_is_not_found(self, rsps, api):
        rsps.patch(f"{FEEDBACK_URL}/abc", status=404, json={"detail": "Not found"})

        with pytest.raises(genapi.NotFound):
            api.set_feedback("abc", True)


# --- 7. DELETE /user/generation-history/{id} ---------------------------------------------


class TestDelete:
    def test_204_without_a_body_is_success(self, rsps, api):
        rsps.delete(f"{HISTORY_URL}/5f8d0d55b54764421b7156c5", status=204)

        assert api.delete("5f8d0d55b54764421b7156c5") is None
        assert rsps.calls[0].request.method == "DELETE"

    def test_a_gone_item_is_not_found(self, rsps, api):
        rsps.delete(f"{HISTORY_URL}/abc", status=404, json={"detail": "Not found"})

        with pytest.raises(genapi.NotFound):
            api.delete("abc")


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param(
            {"body": "<html><body><h1>Welcome to nginx!</h1></body></html>", "content_type": "text/html"},
            id="html-page",
        ),
        pytest.param(
            {"body": '{"items": [{"id": "abc", "sta', "content_type": "application/json"}, id="truncated-json"
        ),
    ],
)
def test_a_change_answered_by_something_other_than_the_api_is_not_taken_as_done(rsps, api, kwargs):
    rsps.patch(f"{FEEDBACK_URL}/abc", status=200, **kwargs)
    rsps.delete(f"{HISTORY_URL}/abc", status=200, **kwargs)

    with pytest.raises(genapi.UpstreamError, match="cannot read"):
        api.set_feedback("abc", True)
    with pytest.raises(genapi.UpstreamError, match="cannot read"):
        api.delete("abc")


# --- Result images -------------------------------------------------------------------------


IMAGE = f"{BASE}/image/generation_result/preview.webp"


class TestImages:
    @pytest.mark.parametrize(
        "path",
        [
            "image/generation_result/preview.webp",
            "/image/generation_result/preview.webp",
            "http://genapi.test/image/generation_result/preview.webp",
            "HTTP://GENAPI.TEST/image/generation_result/preview.webp",
        ],
    )
    def test_relative_and_same_origin_paths_resolve_to_the_same_url(self, api, path):
        assert api.image_url(path).lower() == IMAGE.lower()

    @pytest.mark.parametrize(
        "path",
        [
            pytest.param("http://evil.test/image/x.webp", id="other-host"),
            pytest.param("http://genapi.test.evil.test/image/x.webp", id="suffix-host"),
            pytest.param("http://genapi.test:8080/image/x.webp", id="other-port"),
            pytest.param("https://genapi.test/image/x.webp", id="other-scheme"),
            pytest.param("//evil.test/x", id="scheme-relative"),
            pytest.param("http://test-api-key@evil.test/x", id="userinfo-host"),
            pytest.param("javascript:alert(1)", id="javascript"),
            pytest.param("file:///etc/passwd", id="file"),
            pytest.param(None, id="none"),
            pytest.param("", id="empty"),
        ],
    )
    def test_images_off_the_base_origin_are_refused_without_a_call(self, rsps, api, path):
        assert api.image_url(path) is None
        with pytest.raises(genapi.NotFound):
            api.fetch_image(path)
        assert len(rsps.calls) == 0

    @pytest.mark.parametrize(
        "path",
        [
            "../secret.png",
            "../../secret.png",
            "http://genapi.test/api/../secret.png",
            "http://genapi.test/secret.png",
        ],
    )
    def test_paths_escaping_the_base_path_are_refused_without_a_call(self, rsps, path):
        api = genapi.GenApiClient(f"{BASE}/api", KEY, read_retries=0)

        assert api.image_url(path) is None
        with pytest.raises(genapi.NotFound):
            api.fetch_image(path)
        assert len(rsps.calls) == 0

    def test_paths_inside_a_base_path_resolve_under_it(self):
        api = genapi.GenApiClient(f"{BASE}/api/", KEY, read_retries=0)

        assert api.image_url("image/p.webp") == f"{BASE}/api/image/p.webp"
        assert api.image_url("/image/p.webp") == f"{BASE}/api/image/p.webp"
        assert api.image_url(f"{BASE}/api/image/p.webp") == f"{BASE}/api/image/p.webp"

    def test_fetch_image_returns_bytes_and_content_type_with_the_key(self, rsps, api):
        rsps.get(IMAGE, body=b"RIFF....WEBP", content_type="image/webp")

        image = api.fetch_image("image/generation_result/preview.webp")

        assert image == genapi.UpstreamImage(content=b"RIFF....WEBP", content_type="image/webp")
        assert rsps.calls[0].request.url == IMAGE
        assert rsps.calls[0].request.headers["Authorization"] == f"Bearer {KEY}"

    def test_a_missing_image_is_not_found(self, rsps, api):
        rsps.get(IMAGE, status=404)

        with pytest.raises(genapi.NotFound):
            api.fetch_image("/image/generation_result/preview.webp")


# --- Errors ------------------------------------------------------------------------------


class TestErrors:
    def test_400_detail_is_shown_as_a_rejection(self, rsps, api):
        rsps.post(JOB_URL, status=400, json={"detail": "The person photo is too small."})

        with pytest.raises(genapi.UpstreamRejected) as excinfo:
            api.create_job("fashion_swap", [upload("person", b"P")])
        assert excinfo.value.message == "The person photo is too small."
        assert excinfo.value.status == 400
        assert excinfo.value.field_errors == {}

    def test_422_detail_list_maps_onto_form_fields(self, rsps, api):
        rsps.post(
            JOB_URL,
            status=422,
            json={
                "detail": [
                    {"loc": ["body", "person"], "msg": "field required", "type": "value_error.missing"},
                    {"loc": ["body", "clothes", 0], "msg": "not an image", "type": "value_error"},
                    {"loc": ["body"], "msg": "payload too odd", "type": "value_error"},
                ]
            },
        )

        with pytest.raises(genapi.UpstreamRejected) as excinfo:
            api.create_job("fashion_swap", [upload("clothes", b"C")])
        assert excinfo.value.status == 422
        assert excinfo.value.field_errors == {"person": ["field required"], "clothes": ["not an image"]}
        assert excinfo.value.message == "payload too odd"

    @pytest.mark.parametrize("key", ["message", "error"])
    def test_message_and_error_bodies_are_read_too(self, rsps, api, key):
        rsps.post(JOB_URL, status=400, json={key: "Unsupported tool."})

        with pytest.raises(genapi.UpstreamRejected) as excinfo:
            api.create_job("fashion_swap", [upload("person", b"P")])
        assert excinfo.value.message == "Unsupported tool."

    def test_401_is_an_auth_error_blaming_the_configuration(self, rsps, api):
        rsps.get(TOOLS_URL, status=401, json={"detail": "Invalid token"})

        with pytest.raises(genapi.UpstreamAuthError) as excinfo:
            api.tools()
        assert "GENAPI_API_KEY" in excinfo.value.message
        assert api.last_problem == genapi.UpstreamAuthError.default_message

    def test_403_is_plan_not_allowed(self, rsps, api):
        rsps.get(TOOLS_URL, status=403, json={"detail": "Upgrade to Pro"})

        with pytest.raises(genapi.PlanNotAllowed) as excinfo:
            api.tools()
        assert "plan" in excinfo.value.message
        assert "Upgrade to Pro" in excinfo.value.message

    def test_404_is_not_found(self, rsps, api):
        rsps.get(f"{HISTORY_URL}/abc", status=404)

        with pytest.raises(genapi.NotFound):
            api.history_item("abc")

    @pytest.mark.parametrize("retry_after", ["4", "120"])
    def test_429_with_a_long_retry_after_is_raised_at_once(self, rsps, sleeps, retry_after):
        rsps.get(TOOLS_URL, status=429, headers={"Retry-After": retry_after}, json={"detail": "Too many requests"})

        with pytest.raises(genapi.RateLimited) as excinfo:
            make_api(read_retries=2).tools()

        assert sleeps == [], "the client waited out a window too long to wait"
        assert excinfo.value.retry_after == int(retry_after)
        assert len(rsps.calls) == 1

    def test_429_with_a_retry_after_up_to_three_seconds_on_a_read_is_waited_out_once(self, rsps, sleeps):
        # The control for the test above: the same stubs, a window short enough to wait.
        rsps.get(TOOLS_URL, status=429, headers={"Retry-After": "3"})
        rsps.get(TOOLS_URL, json=SEED_TOOLS)

        tools = make_api(read_retries=2).tools()

        assert len(tools) == 9
        assert sleeps == [3]
        assert len(rsps.calls) == 2

    def test_reads_never_sleep_through_retry_after_inside_urllib3(self):
        # Regression: urllib3's own Retry honoured Retry-After, so a 429 GET with
        # "Retry-After: 120" slept 2 x 120 s (read_retries=2) despite the client's cap.
        # `responses` never sleeps on retries, so the policy itself is checked here.
        api = make_api(read_retries=2)
        retry = api._session(for_reads=True).get_adapter(BASE).max_retries

        assert not retry.is_retry("GET", 429, has_retry_after=True)
        assert not retry.respect_retry_after_header

    def test_429_with_retry_after_zero_on_a_read_is_retried_once(self, rsps, api):
        rsps.get(TOOLS_URL, status=429, headers={"Retry-After": "0"})
        rsps.get(TOOLS_URL, json=SEED_TOOLS)

        tools = api.tools()

        assert len(tools) == 9
        assert len(rsps.calls) == 2

    def test_429_twice_on_a_read_gives_up_after_one_retry(self, rsps, api):
        rsps.get(TOOLS_URL, status=429, headers={"Retry-After": "0"})
        rsps.get(TOOLS_URL, status=429, headers={"Retry-After": "0"})

        with pytest.raises(genapi.RateLimited):
            api.tools()
        assert len(rsps.calls) == 2

    def test_502_with_an_html_body_gives_a_clear_message(self, rsps, api):
        rsps.get(
            TOOLS_URL, status=502, body="<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html"
        )

        with pytest.raises(genapi.UpstreamError) as excinfo:
            api.tools()
        assert excinfo.value.status == 502
        assert "<" not in excinfo.value.message
        assert "html" not in excinfo.value.message.lower()
        assert excinfo.value.message == genapi.UpstreamError.default_message

    def test_500_is_an_upstream_error(self, rsps, api):
        rsps.get(TOOLS_URL, status=500, json={"detail": "Internal Server Error"})

        with pytest.raises(genapi.UpstreamError) as excinfo:
            api.tools()
        assert excinfo.value.status == 500

    def test_reads_retry_server_errors_then_succeed(self, rsps):
        rsps.get(TOOLS_URL, status=503)
        rsps.get(TOOLS_URL, status=503)
        rsps.get(TOOLS_URL, json=SEED_TOOLS)

        tools = make_api(read_retries=2).tools()

        assert len(tools) == 9
        assert len(rsps.calls) == 3

    def test_reads_give_up_after_their_retries(self, rsps):
        for _ in range(3):
            rsps.get(TOOLS_URL, status=503)

        with pytest.raises(genapi.UpstreamError):
            make_api(read_retries=2).tools()
        assert len(rsps.calls) == 3

    def test_a_redirect_is_an_error_and_never_followed(self, rsps, api):
        rsps.get(TOOLS_URL, status=302, headers={"Location": "http://evil.test/steal"})

        with pytest.raises(genapi.UpstreamError) as excinfo:
            api.tools()
        assert excinfo.value.status == 302
        assert len(rsps.calls) == 1

    def test_a_connection_error_is_unavailable(self, rsps, api):
        rsps.get(TOOLS_URL, body=requests.exceptions.ConnectionError("Connection refused"))

        with pytest.raises(genapi.UpstreamUnavailable):
            api.tools()
        assert api.last_problem == genapi.UpstreamUnavailable.default_message

    @pytest.mark.parametrize("timeout", [requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout])
    def test_a_timeout_is_unavailable(self, rsps, api, timeout):
        rsps.get(TOOLS_URL, body=timeout())

        with pytest.raises(genapi.UpstreamUnavailable):
            api.tools()

    def test_a_success_clears_the_last_problem(self, rsps, api):
        rsps.get(TOOLS_URL, status=401)
        rsps.get(TOOLS_URL, json=SEED_TOOLS)

        with pytest.raises(genapi.UpstreamAuthError):
            api.tools()
        api.tools()

        assert api.last_problem is None

    @pytest.mark.parametrize(
        ("status", "body"),
        [
            (400, {"detail": "bad key test-api-key"}),
            (400, {"detail": "Authorization: Bearer test-api-key"}),
            (400, {"message": "header was authorization: bearer test-api-key, refused"}),
            (403, {"detail": "key test-api-key has no Pro plan"}),
            (422, {"detail": [{"loc": ["body", "person"], "msg": "bad key test-api-key", "type": "x"}]}),
            (422, {"detail": [{"loc": ["body"], "msg": "Bearer test-api-key", "type": "x"}]}),
        ],
    )
    def test_an_echoed_key_never_reaches_the_message(self, rsps, api, status, body):
        rsps.post(JOB_URL, status=status, json=body)

        with pytest.raises(genapi.GenApiError) as excinfo:
            api.create_job("fashion_swap", [upload("person", b"P")])
        error = excinfo.value
        assert KEY not in error.message
        assert KEY not in str(error)
        assert KEY not in repr(getattr(error, "field_errors", {}))


# --- Transport -----------------------------------------------------------------------------


class TestAuthHeader:
    def test_every_call_sends_the_bearer_key(self, rsps, api):
        rsps.get(TOOLS_URL, json=SEED_TOOLS)
        rsps.get(TYPES_URL, json=[])
        rsps.post(JOB_URL, json=DOCUMENTED_JOB)
        rsps.get(f"{HISTORY_URL}/abc", json={**DOCUMENTED_ITEM, "id": "abc"})
        rsps.get(HISTORY_URL, json=DOCUMENTED_LISTING)
        rsps.patch(f"{FEEDBACK_URL}/abc", json={})
        rsps.delete(f"{HISTORY_URL}/abc", status=204)
        rsps.get(IMAGE, body=b"img", content_type="image/webp")

        api.tools()
        api.styles("fashion_swap")
        api.create_job("fashion_swap", [upload("person", b"P")])
        api.history_item("abc")
        api.history()
        api.set_feedback("abc", True)
        api.delete("abc")
        api.fetch_image("image/generation_result/preview.webp")

        assert len(rsps.calls) == 8
        assert [call.request.headers["Authorization"] for call in rsps.calls] == [f"Bearer {KEY}"] * 8

    def test_the_settings_client_uses_the_configured_key(self, rsps):
        rsps.get(TOOLS_URL, json=[])

        genapi.client().tools()

        assert rsps.calls[0].request.headers["Authorization"] == f"Bearer {KEY}"


# --- Logging -------------------------------------------------------------------------------


@pytest.fixture
def genapi_log(caplog):
    """INFO records of dashboard.genapi, once each.

    The settings' "dashboard" logger does not propagate to the root logger, where caplog
    listens; attach caplog's handler directly unless the logger chain already reaches it.
    """
    log = logging.getLogger("dashboard.genapi")
    caplog.set_level(logging.INFO, logger="dashboard.genapi")
    reachable, node = [], log
    while node is not None:
        reachable.extend(node.handlers)
        node = node.parent if node.propagate else None
    attach = caplog.handler not in reachable
    if attach:
        log.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        if attach:
            log.removeHandler(caplog.handler)


class TestLogging:
    def test_one_line_per_call_with_method_path_and_status(self, rsps, api, genapi_log):
        rsps.get(TOOLS_URL, json=SEED_TOOLS)
        rsps.patch(f"{FEEDBACK_URL}/abc", json={})
        rsps.delete(f"{HISTORY_URL}/gone", status=404)

        api.tools()
        api.set_feedback("abc", True)
        with pytest.raises(genapi.NotFound):
            api.delete("gone")

        lines = [r.getMessage() for r in genapi_log.records if r.name == "dashboard.genapi"]
        assert len(lines) == 3
        assert "GET" in lines[0] and "/generation/tools" in lines[0] and "200" in lines[0]
        assert "PATCH" in lines[1] and "/user/generation-history/feedback/abc" in lines[1] and "200" in lines[1]
        assert "DELETE" in lines[2] and "/user/generation-history/gone" in lines[2] and "404" in lines[2]

    def test_failures_without_a_status_are_logged_too(self, rsps, api, genapi_log):
        rsps.get(TOOLS_URL, body=requests.exceptions.ConnectTimeout())

        with pytest.raises(genapi.UpstreamUnavailable):
            api.tools()

        lines = [r.getMessage() for r in genapi_log.records if r.name == "dashboard.genapi"]
        assert len(lines) == 1
        assert "GET" in lines[0] and "/generation/tools" in lines[0]

    def test_the_key_is_never_logged(self, rsps, api, genapi_log):
        rsps.get(TOOLS_URL, json=SEED_TOOLS)
        rsps.post(JOB_URL, status=400, json={"detail": "bad key test-api-key"})
        rsps.get(HISTORY_URL, status=401, json={"detail": "Authorization: Bearer test-api-key"})

        api.tools()
        with pytest.raises(genapi.UpstreamRejected):
            api.create_job("fashion_swap", [upload("person", b"P")])
        with pytest.raises(genapi.UpstreamAuthError):
            api.history(statuses=["pending"])

        assert len([r for r in genapi_log.records if r.name == "dashboard.genapi"]) == 3
        assert KEY not in genapi_log.text
        assert all(KEY not in r.getMessage() for r in genapi_log.records)


# --- Diagnostics: check_openapi --------------------------------------------------------------


def _json_response(ref: str) -> dict:
    return {"description": "OK", "content": {"application/json": {"schema": {"$ref": ref}}}}


OPENAPI_DOC = {
    "openapi": "3.1.0",
    "info": {"title": "Nextry API", "version": "2"},
    "paths": {
        "/generation/tools": {
            "get": {
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {
                            "application/json": {
                                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Tool"}}
                            }
                        },
                    }
                }
            }
        },
        "/generation/generationTypes": {
            "get": {
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {
                            "application/json": {
                                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/GenerationType"}}
                            }
                        },
                    }
                }
            }
        },
        "/generation/generate_image_v2/": {
            "post": {"responses": {"201": _json_response("#/components/schemas/JobCreated")}}
        },
        "/user/generation-history/{history_id}": {
            "get": {"responses": {"200": _json_response("#/components/schemas/HistoryItem")}},
            "delete": {"responses": {"204": {"description": "Deleted"}}},
        },
        "/user/generation-history": {"get": {"responses": {"200": _json_response("#/components/schemas/HistoryPage")}}},
        "/user/generation-history/feedback/{history_id}": {
            "patch": {"responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {}}}}}}
        },
    },
    "components": {
        "schemas": {
            "Tool": {
                "type": "object",
                "properties": {
                    "tool": {"type": "string"},
                    "title": {"type": "string"},
                    "group_tool": {"type": "string"},
                },
            },
            "GenerationType": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "title": {"type": "string"},
                    "brand_url": {"type": "string"},
                    "preview_url": {"type": "string"},
                },
            },
            "JobCreated": {
                "type": "object",
                "properties": {
                    "preview_image": {"type": "string"},
                    "stock_image": {"type": "string"},
                    "history_item_id": {"type": "string"},
                },
            },
            "HistoryItem": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "generation_type": {"type": "string"},
                    "status": {"type": "string", "enum": ["pending", "complete", "error"]},
                    "created_at": {"type": "string", "format": "date-time"},
                    "preview_url": {"type": "string"},
                    "stock_url": {"type": "string"},
                    "like": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
                },
            },
            "HistoryPage": {
                "type": "object",
                "properties": {
                    "page": {"type": "integer"},
                    "count": {"type": "integer"},
                    "total_count": {"type": "integer"},
                    "pages": {"type": "integer"},
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/HistoryItem"}},
                },
            },
        }
    },
}


class TestCheckOpenapi:
    def test_a_document_with_all_seven_endpoints_is_all_ok(self):
        report = check_openapi(OPENAPI_DOC)

        assert len(report) == 7
        assert all(ok for ok, _sentence in report), report

    def test_a_missing_path_and_a_response_lacking_like_are_reported(self):
        doc = copy.deepcopy(OPENAPI_DOC)
        del doc["paths"]["/generation/generationTypes"]
        del doc["components"]["schemas"]["HistoryItem"]["properties"]["like"]

        report = check_openapi(doc)

        failed = [sentence for ok, sentence in report if not ok]
        assert len(report) == 7
        assert len(failed) == 2
        assert any("GET /generation/generationTypes" in s and "not documented" in s for s in failed)
        assert any("GET /user/generation-history:" in s and "like" in s for s in failed)

    def test_an_empty_document_reports_every_endpoint_missing(self):
        report = check_openapi({})

        assert len(report) == 7
        assert not any(ok for ok, _sentence in report)
