"""/healthz is public: hammering it must not spend the API key's rate limit; the sync's lag
it reports comes from the sync's own record."""

import time

import pytest
from django.urls import reverse

from tests.support.index import catch_up

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.postgres_redis]


def tool_listings(simulator) -> int:
    return sum(1 for entry in simulator.requests() if entry["path"].startswith("/generation/tools"))


class TestHealthzProbesTheUpstreamSparingly:
    def test_seventy_hits_make_one_upstream_call(self, client, on_simulator):
        on_simulator.clear_requests()
        for _ in range(70):
            response = client.get(reverse("healthz"))
            assert response.status_code == 200
        assert tool_listings(on_simulator) == 1
        assert len(on_simulator.requests()) == 1  # the sync's lag comes from the database

    def test_it_reports_the_syncs_lag_from_the_syncs_last_answer(self, client, on_simulator):
        assert client.get(reverse("healthz")).json()["sync"] == "behind"  # it never ran
        started = time.monotonic()
        catch_up()  # the sync process, against the simulator
        on_simulator.clear_requests()
        body = client.get(reverse("healthz")).json()
        # At most the time since the sync began: on a busy machine that is a second or more.
        assert body["sync"] == "ok"
        assert 0 <= body["sync_lag_seconds"] <= round(time.monotonic() - started) + 1
        assert on_simulator.requests() == []  # probe reused; the lag is the sync's own record

    def test_a_failed_probe_is_remembered_too(self, client, on_simulator):
        on_simulator.configure(error_rate=1)
        on_simulator.clear_requests()
        for _ in range(20):
            assert client.get(reverse("healthz")).json()["upstream"] == "unavailable"
        assert tool_listings(on_simulator) == 1

    def test_workers_share_the_probe_through_redis(self, client, on_simulator, on_redis):
        from django.core.cache import caches

        on_simulator.clear_requests()
        client.get(reverse("healthz"))
        caches["local"].clear()  # another worker: nothing in its own memory
        assert client.get(reverse("healthz")).json()["upstream"] == "ok"
        assert tool_listings(on_simulator) == 1

    def test_with_redis_down_each_worker_still_remembers_its_probe(self, client, on_simulator, on_redis):
        on_redis.stop()
        on_simulator.clear_requests()
        for _ in range(20):
            assert client.get(reverse("healthz")).json()["cache"] == "unavailable"
        assert tool_listings(on_simulator) == 1


def test_with_https_on_a_plain_http_probe_is_answered_not_redirected(client, settings):
    # A load balancer's probe comes over plain HTTP, inside the network; a 301 to https
    # would read as "unhealthy" or be followed to the public address.
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(reverse("healthz")).status_code in (200, 503)
    assert client.get(reverse("history")).status_code == 301
