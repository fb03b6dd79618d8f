"""The shell around every page: login, health check, the upstream banner, security headers."""

import json

import pytest
import requests
import responses
from django.urls import reverse

# On PostgreSQL and Redis too: /healthz probes the database and writes and reads the shared
# cache, and logging out ends a session (kept in the cache and the database).
pytestmark = pytest.mark.postgres_redis

API = "http://genapi.test"
TOOLS = [{"group_tool": "fashion", "tool": "fashion_swap", "title": "Fashion Swap"}]


@pytest.mark.django_db
class TestHealthCheck:
    def test_healthy_when_the_database_and_the_api_answer(self, client):
        with responses.RequestsMock() as api:
            api.get(f"{API}/generation/tools", json=TOOLS)
            response = client.get(reverse("healthz"))
        assert response.status_code == 200
        assert json.loads(response.content) == {
            "status": "ok",
            "database": "ok",
            "cache": "ok",
            "upstream": "ok",
            "worker": "ok",
        }

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
