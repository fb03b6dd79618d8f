"""PostgreSQL stopped under a running web process, then started again (a restart, an
upgrade): every page says the database is unavailable (503, Retry-After) rather than a
bare 500, /healthz says so, and the same process serves again once PostgreSQL is back,
nothing restarted. The Procfile's web command in a process of its own, on a private
PostgreSQL (tests/support/services.py). How long each takes is in the README ("Deployment")."""

import os
import signal
import subprocess
import sys
import tempfile

import pytest
import requests

from tests.conftest import free_port
from tests.support.procfile import web_command
from tests.support.services import PostgresServer
from tests.support.simulator import PROJECT_ROOT, read_output
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.postgres_redis]

SIGN_IN = """
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
user = get_user_model().objects.create_user(username="ada", password="not-a-real-password-1")
session = SessionStore()
session["_auth_user_id"] = str(user.pk)
session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
session["_auth_user_hash"] = user.get_session_auth_hash()
session.create()
print(session.session_key)
"""


def manage(env: dict[str, str], *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def status_of(session: requests.Session, url: str) -> int | None:
    try:
        return session.get(url, timeout=5).status_code
    except requests.RequestException:
        return None  # not listening yet


def test_pages_say_the_database_is_away_and_the_same_process_serves_once_it_is_back(on_simulator, tmp_path):
    with PostgresServer() as postgres:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))},
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "DATABASE_URL": postgres.url,
            "DEBUG": "false",
            "HTTPS": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECRET_KEY": "outage-test-secret-key-not-for-production",
            "MEDIA_ROOT": str(tmp_path / "media"),
            "STATIC_ROOT": str(tmp_path / "static"),
            "GENAPI_BASE_URL": on_simulator.base_url,
            "GENAPI_API_KEY": on_simulator.api_key,
            "PYTHONUNBUFFERED": "1",
        }
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "collectstatic", "--no-input", "-v", "0")
        session_key = manage(env, "shell", "--no-imports", "-c", SIGN_IN).strip().splitlines()[-1]
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        output = tempfile.TemporaryFile()
        process = subprocess.Popen(
            web_command(port),
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        designer = requests.Session()
        designer.cookies.set("sessionid", session_key)
        try:
            wait_until(
                lambda: status_of(designer, f"{base_url}/history/") == 200,
                timeout=60,
                message=lambda: f"the web process serving History:\n{read_output(output)[-3000:]}",
            )
            postgres.pause()

            page = designer.get(f"{base_url}/history/", timeout=30)
            assert page.status_code == 503, page.text[:500]
            assert "database is not answering" in page.text and page.headers["Retry-After"] == "5"
            login = requests.post(f"{base_url}/login/", data={"username": "ada", "password": "x"}, timeout=30)
            assert login.status_code in (403, 503)  # the CSRF check refuses first, without the database
            health = requests.get(f"{base_url}/healthz", timeout=30)
            assert health.status_code == 503 and health.json()["database"] == "unavailable"
            assert process.poll() is None, "the web process exited on the outage"

            postgres.resume()
            wait_until(
                lambda: status_of(designer, f"{base_url}/history/") == 200,
                timeout=30,
                message=lambda: f"History served again:\n{read_output(output)[-3000:]}",
            )
            assert requests.get(f"{base_url}/healthz", timeout=10).json()["database"] == "ok"
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
            output.close()
