"""The README's backup and restore ("Backup and restore"), done as an operator would: a
designer and her library image made through the app on PostgreSQL, `pg_dump -Fc` of the
database, `pg_restore` into a fresh database, `migrate` there (nothing to apply), and
the Procfile's web process started on the restored database with the same media
storage: she logs in with her password and finds her image, renamed as she left it, and
its thumbnail. Under `make test-services` the databases are made on the run's own
PostgreSQL; in the SQLite run on a private one (tests/support/services.py)."""

import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import requests

from tests.conftest import free_port
from tests.support.procfile import web_command
from tests.support.services import postgres_bindir, postgres_to_create_databases_on
from tests.support.simulator import PROJECT_ROOT, read_output
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.postgres_redis]

PASSWORD = "restore-test-password-1"

# Ada's afternoon, through the app's own views: she logs in, adds a photo to the library
# and names it. Prints the image's id.
ADA_ADDS_AN_IMAGE = f"""
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from dashboard.models import InputImage
from tests.support.corpus import person_photo
client = Client()
assert client.post("/login/", {{"username": "ada", "password": "{PASSWORD}"}}).status_code == 302
photo = SimpleUploadedFile("model.png", person_photo(fmt="PNG"), "image/png")
assert client.post("/library/add", {{"kind": "person", "images": [photo]}}).status_code == 303
image = InputImage.objects.get(owner__username="ada")
saved = client.post(f"/library/{{image.pk}}/", {{"action": "save", "name": "Spring model", "tags": "spring"}})
assert saved.status_code == 303, saved.status_code
print(image.pk)
"""


@pytest.fixture
def postgres_server():
    """The URL of a PostgreSQL we may create databases on: the run's, else our own."""
    with postgres_to_create_databases_on() as url:
        yield url


@contextmanager
def fresh_database(server_url: str):
    """A new, empty database on that server (its URL), dropped afterwards."""
    name = f"restore_{secrets.token_hex(4)}"
    admin = urlsplit(server_url)._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    try:
        yield urlsplit(server_url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def client_tool(program: str, database_url: str, *args: str) -> None:
    """pg_dump or pg_restore (from the PostgreSQL the tests run) on that database."""
    parts = urlsplit(database_url)
    connection = ["-h", parts.hostname, "-p", str(parts.port), "-U", parts.username, "-d", parts.path.lstrip("/")]
    completed = subprocess.run(
        [str(postgres_bindir() / program), *connection, *args],
        env={**os.environ, "PGPASSWORD": parts.password or ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def manage(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    completed = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def settings_for(database_url: str, on_simulator, media: Path, static: Path) -> dict[str, str]:
    """A production-like environment on that database and that media storage."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))},
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "HTTPS": "false",
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "SECRET_KEY": "restore-test-secret-key-not-for-production",
        "MEDIA_ROOT": str(media),
        "STATIC_ROOT": str(static),
        "GENAPI_BASE_URL": on_simulator.base_url,
        "GENAPI_API_KEY": on_simulator.api_key,
        "PYTHONUNBUFFERED": "1",
    }


@contextmanager
def web_process(env: dict[str, str]):
    """The Procfile's web command on a free port, serving; its base URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    output = tempfile.TemporaryFile()
    process = subprocess.Popen(
        web_command(port), cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_until(
            lambda: answers(f"{base_url}/login/"),
            timeout=60,
            message=lambda: f"the web process serving the login page:\n{read_output(output)[-3000:]}",
        )
        yield base_url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        output.close()


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False  # not listening yet


def log_in(base_url: str, username: str, password: str) -> requests.Session:
    """The login form, as a browser fills it in (its CSRF token included)."""
    browser = requests.Session()
    form = browser.get(f"{base_url}/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    answer = browser.post(
        f"{base_url}/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, f"login refused ({answer.status_code}): {answer.text[:500]}"
    return browser


def test_a_dump_restored_into_a_fresh_database_serves_the_designer_her_work(postgres_server, on_simulator, tmp_path):
    media, static, dump = tmp_path / "media", tmp_path / "static", tmp_path / "nextry.dump"
    with fresh_database(postgres_server) as original_url, fresh_database(postgres_server) as restored_url:
        original = settings_for(original_url, on_simulator, media, static)
        manage(original, "migrate", "--no-input", "-v", "0")
        manage(original, "collectstatic", "--no-input", "-v", "0")
        manage(original, "designer", "add", "ada", "--name", "Ada", "--password-stdin", stdin=PASSWORD + "\n")
        image_id = manage(original, "shell", "--no-imports", "-c", ADA_ADDS_AN_IMAGE).strip().splitlines()[-1]

        client_tool("pg_dump", original_url, "--format=custom", "--file", str(dump))
        client_tool("pg_restore", restored_url, "--no-owner", "--exit-on-error", str(dump))

        restored = settings_for(restored_url, on_simulator, media, static)
        assert "No migrations to apply." in manage(restored, "migrate", "--no-input")
        with web_process(restored) as base_url:
            ada = log_in(base_url, "ada", PASSWORD)
            library = ada.get(f"{base_url}/library/", timeout=30)
            assert library.status_code == 200
            assert "Spring model" in library.text and f"/inputs/{image_id}/thumbnail" in library.text
            thumbnail = ada.get(f"{base_url}/inputs/{image_id}/thumbnail", timeout=30)
            assert thumbnail.status_code == 200 and thumbnail.headers["Content-Type"] == "image/webp"
            assert thumbnail.content.startswith(b"RIFF")
