"""The shell around every page: login, health check, the upstream banner, security headers."""

import json
from datetime import timedelta

import pytest
import requests
import responses
from django.urls import reverse
from django.utils import timezone

from dashboard.models import SyncState
from dashboard.runs import workers

# On PostgreSQL and Redis too: /healthz probes the database and writes and reads the shared
# cache, and logging out ends a session (kept in the cache and the database).
pytestmark = pytest.mark.postgres_redis

API = "http://genapi.test"
TOOLS = [{"group_tool": "fashion", "tool": "fashion_swap", "title": "Fashion Swap"}]


def sync_state(**fields) -> None:
    """The sync process's progress as it would have left it (dashboard/index/sync.py)."""
    SyncState.objects.update_or_create(name="history", defaults=fields)


def healthz(client) -> tuple[int, dict]:
    # The probe of the API is reused for HEALTHZ_CACHE_SECONDS: later hits may not call it.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.get(f"{API}/generation/tools", json=TOOLS)
        response = client.get(reverse("healthz"))
    return response.status_code, json.loads(response.content)


@pytest.mark.django_db
class TestHealthCheck:
    def test_healthy_when_the_database_the_api_and_the_sync_answer(self, client):
        sync_state(first_sync_done=True, last_contact_at=timezone.now())
        workers.beat("worker-1")
        status, body = healthz(client)
        assert status == 200
        assert body == {
            "status": "ok",
            "database": "ok",
            "cache": "ok",
            "storage": "ok",
            "upstream": "ok",
            "worker": "ok",
            "sync": "ok",
            "sync_lag_seconds": 0,
        }

    def test_the_syncs_lag_is_reported_in_seconds_and_behind_once_stale(self, client, settings):
        settings.SYNC_STALE_SECONDS = 60
        sync_state(first_sync_done=True, last_contact_at=timezone.now() - timedelta(seconds=45))
        status, body = healthz(client)
        assert body["sync"] == "ok" and 45 <= body["sync_lag_seconds"] <= 47  # whole seconds
        sync_state(last_contact_at=timezone.now() - timedelta(minutes=5), problem="the service is down")
        status, body = healthz(client)
        # Informational, as the worker's: a stopped sync does not take the web instance out.
        assert status == 200 and body["status"] == "ok"
        assert body["sync"] == "behind" and 299 <= body["sync_lag_seconds"] <= 302
        assert "the service is down" not in json.dumps(body)  # words only, nothing the upstream said

    def test_a_sync_that_never_reached_the_api_is_behind_with_no_lag(self, client):
        status, body = healthz(client)
        assert status == 200
        assert (body["sync"], body["sync_lag_seconds"]) == ("behind", None)

    def test_a_first_sync_under_way_is_catching_up(self, client):
        sync_state(first_sync_done=False, first_sync_page=3, last_contact_at=timezone.now())
        body = healthz(client)[1]
        assert (body["sync"], body["sync_lag_seconds"]) == ("catching up", 0)

    def test_degraded_when_the_api_is_unreachable_and_no_login_needed(self, client):
        with responses.RequestsMock() as api:
            api.get(f"{API}/generation/tools", body=requests.ConnectionError())
            response = client.get(reverse("healthz"))
        assert response.status_code == 503
        assert json.loads(response.content)["upstream"] == "unavailable"

    def test_a_refused_key_is_reported_without_revealing_anything(self, client):
        with responses.RequestsMock() as api:
            api.get(f"{API}/generation/tools", status=401, json={"detail": "Invalid key test-api-key"})
            response = client.get(reverse("healthz"))
        body = response.content.decode()
        assert json.loads(body)["upstream"] == "key refused"
        assert "test-api-key" not in body and API not in body


@pytest.mark.django_db
class TestShell:
    def test_the_login_page_needs_no_login_and_is_protected_by_csp(self, client):
        response = client.get(reverse("login"))
        assert response.status_code == 200
        csp = response["Content-Security-Policy"]
        assert "script-src 'self' 'nonce-" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        nonce = csp.split("'nonce-")[1].split("'")[0]
        assert f'nonce="{nonce}"' in response.content.decode()  # htmx's script carries it

    def test_every_page_shows_a_banner_when_the_api_cannot_be_reached(self, client, designer):
        with responses.RequestsMock() as api:
            api.get(f"{API}/generation/tools", body=requests.ConnectionError())
            response = client.get(reverse("home"))
        assert response.status_code == 200
        assert 'id="upstream-banner"' in response.content.decode()
        with responses.RequestsMock() as api:
            api.get(f"{API}/generation/tools", json=TOOLS)
            api.get(f"{API}/generation/generationTypes", json=[])
            response = client.get(reverse("home"))
        assert 'id="upstream-banner"' not in response.content.decode()

    def test_a_refused_key_is_shown_as_the_operators_problem(self, client, designer):
        with responses.RequestsMock() as api:
            api.get(f"{API}/generation/tools", status=401, json={"detail": "nope"})
            body = client.get(reverse("home")).content.decode()
        assert "administrator needs to check GENAPI_API_KEY" in body

    def test_logout_needs_a_post(self, client, designer):
        assert client.get(reverse("logout")).status_code == 405
        assert client.post(reverse("logout")).status_code == 302

    def test_the_demo_user_command_refuses_to_run_in_production(self, settings):
        from django.core.management import CommandError, call_command

        settings.DEBUG = False
        with pytest.raises(CommandError, match="DEBUG is off"):
            call_command("ensure_demo_user")
