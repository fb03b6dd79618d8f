"""One request id through a request's log line and the upstream calls it made; taken
from a well-formed X-Request-ID, returned in the response."""

import pytest
from django.urls import reverse

from tests.support.seed import SEED_TOOLS

pytestmark = pytest.mark.django_db

TOOLS_URL = "http://genapi.test/generation/tools"


def lines_of(lines, logger):
    return [line for line in lines if line["logger"] == logger]


def test_a_requests_line_and_its_upstream_calls_share_one_request_id(client, rsps, log_lines):
    rsps.get(TOOLS_URL, json=SEED_TOOLS)

    response = client.get(reverse("healthz"))

    lines = log_lines()
    [request_line] = lines_of(lines, "dashboard.requests")
    [upstream_line] = lines_of(lines, "dashboard.genapi")
    assert request_line["message"].startswith("GET /healthz 200")
    assert upstream_line["message"].startswith("genapi GET /generation/tools 200")
    assert request_line["request_id"] == upstream_line["request_id"] == response["X-Request-ID"]
    assert len(response["X-Request-ID"]) == 32


def test_each_request_gets_its_own_id(client, rsps, log_lines):
    rsps.get(TOOLS_URL, json=SEED_TOOLS)

    first = client.get(reverse("healthz"))["X-Request-ID"]
    second = client.get(reverse("healthz"))["X-Request-ID"]

    assert first != second
    assert [line["request_id"] for line in lines_of(log_lines(), "dashboard.requests")] == [first, second]


def test_a_well_formed_incoming_id_is_kept(client, rsps, log_lines):
    rsps.get(TOOLS_URL, json=SEED_TOOLS)
    sent = "3f2c9a1e-7b4d-4e1a-9c2f-5d6e7f8a9b0c"

    response = client.get(reverse("healthz"), headers={"X-Request-ID": sent})

    assert response["X-Request-ID"] == sent
    assert {line["request_id"] for line in log_lines()} == {sent}


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param("short", id="too-short"),
        pytest.param("x" * 65, id="too-long"),
        pytest.param("abc def ghi", id="spaces"),
        pytest.param('abcdefgh"}{"level":"CRITICAL', id="json-injection"),
        pytest.param("abcdefgh\tforged", id="tab"),
    ],
)
def test_a_malformed_incoming_id_is_replaced(client, rsps, log_lines, sent):
    rsps.get(TOOLS_URL, json=SEED_TOOLS)

    response = client.get(reverse("healthz"), headers={"X-Request-ID": sent})

    assert response["X-Request-ID"] != sent
    assert len(response["X-Request-ID"]) == 32
    assert {line["request_id"] for line in log_lines()} == {response["X-Request-ID"]}


def test_log_lines_never_carry_the_api_key(client, rsps, log_lines, settings):
    key = settings.GENAPI_API_KEY
    rsps.get(TOOLS_URL, json=SEED_TOOLS)

    client.get(f"/nowhere/{key}/", headers={"X-Request-ID": f"req-{key}"})

    written = str(log_lines())
    assert key not in written
    assert "[redacted]" in written


def test_djangos_own_line_for_a_refused_request_carries_its_id(client, log_lines, settings):
    settings.METRICS_TOKEN = "a-token-for-this-test"

    response = client.get(reverse("metrics"))

    [refusal] = lines_of(log_lines(), "django.request")
    assert response.status_code == 401
    assert refusal["request_id"] == response["X-Request-ID"]


def test_lines_carry_an_iso_8601_time(client, rsps, log_lines):
    rsps.get(TOOLS_URL, json=SEED_TOOLS)
    client.get(reverse("healthz"))
    assert all(line["time"].endswith("+00:00") and "T" in line["time"] for line in log_lines())
