"""Production settings: Django's deploy checks and the security headers under HTTPS."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "studio.example.com",
    "HTTPS": "true",
    "BEHIND_PROXY": "true",
    "GENAPI_BASE_URL": "https://api.example.com",
    "GENAPI_API_KEY": "not-a-real-key",
    # Opened by the processes below (no table is read): one file per pytest-xdist worker.
    "DATABASE_URL": f"sqlite:////tmp/nextry-deploy-check{os.environ.get('PYTEST_XDIST_WORKER', '')}.sqlite3",
}

OWN_VARIABLES = (
    "DJANGO_",
    "DATABASE_",
    "REDIS_",
    "MEDIA_",
    "AWS_",
    "STATIC_ROOT",
    "WEB_CONCURRENCY",
    "HEALTHZ_",
    "TASKS_",
)


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    # Nothing of the test run's own configuration (the services run sets DATABASE_URL
    # and REDIS_URL, for one) leaks into the production settings under test.
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and not k.startswith(OWN_VARIABLES)}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "dashboard.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


class TestDeployChecks:
    def test_check_deploy_reports_no_warning_under_production_settings(self):
        result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "System check identified no issues" in result.stdout

    def test_production_refuses_to_start_without_a_secret_key(self):
        result = manage("check", env={**PRODUCTION_ENV, "SECRET_KEY": ""})
        assert result.returncode != 0
        assert "SECRET_KEY must be set" in result.stderr

    def test_the_rq_task_backend_refuses_to_start_without_redis(self):
        result = manage("check", env={**PRODUCTION_ENV, "TASKS_BACKEND": "rq"})
        assert result.returncode != 0
        assert "TASKS_BACKEND=rq keeps the tasks in Redis: set REDIS_URL too." in result.stderr

    def test_the_rq_task_backend_passes_the_deploy_checks_with_redis(self):
        # Checks only: nothing connects to this Redis.
        env = {**PRODUCTION_ENV, "TASKS_BACKEND": "rq", "REDIS_URL": "redis://redis.example.com:6379/0"}
        result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_an_unknown_task_backend_is_refused_by_name(self):
        result = manage("check", env={**PRODUCTION_ENV, "TASKS_BACKEND": "celery"})
        assert result.returncode != 0
        assert 'TASKS_BACKEND must be "database" or "rq", not \'celery\'' in result.stderr


# Two requests through the whole middleware stack under the production settings (no
# template is rendered: the manifest of collected static files does not exist here).
HTTPS_REQUESTS = """
from django.test import Client
browser = Client(HTTP_HOST="studio.example.com")
secure = browser.get("/logout/", HTTP_X_FORWARDED_PROTO="https")
plain = browser.get("/logout/?next=x")
print(secure.get("Strict-Transport-Security"))
print(plain.status_code, plain.get("Location"))
"""


class TestHeadersUnderHttps:
    def test_production_sends_hsts_over_https_and_redirects_plain_http(self):
        # Our production settings, not values set by the test: with HTTPS unset (the
        # control below) Django sends neither, which is its default.
        result = manage("shell", "--no-imports", "-c", HTTPS_REQUESTS, env=PRODUCTION_ENV)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [
            "max-age=31536000; includeSubDomains",
            "301 https://studio.example.com/logout/?next=x",
        ]
        without = manage("shell", "--no-imports", "-c", HTTPS_REQUESTS, env={**PRODUCTION_ENV, "HTTPS": "false"})
        assert without.stdout.splitlines()[0] == "None"

    @pytest.mark.django_db
    def test_pages_carry_our_content_security_policy(self, client):
        response = client.get(reverse("login"), secure=True)
        csp = response["Content-Security-Policy"]
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp

    def test_the_production_settings_module_turns_it_all_on(self):
        result = manage(
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER)",
            env=PRODUCTION_ENV,
        )
        assert result.stdout.split() == [
            "True",
            "True",
            "True",
            "31536000",
            "('HTTP_X_FORWARDED_PROTO',",
            "'https')",
        ], result.stderr


class TestStorageFromTheEnvironment:
    def test_media_on_s3_and_static_root_are_read_from_the_environment(self):
        result = manage(
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings as s; from django.core.files.storage import storages; d = storages['default']; "
            "print(s.STATIC_ROOT, type(d).__name__, d.bucket_name, d.location)",
            env={
                **PRODUCTION_ENV,
                "STATIC_ROOT": "/srv/nextry/static",
                "MEDIA_STORAGE": "s3",
                "AWS_STORAGE_BUCKET_NAME": "studio-inputs",
                "AWS_LOCATION": "inputs",
            },
        )
        assert result.stdout.split() == ["/srv/nextry/static", "S3MediaStorage", "studio-inputs", "inputs"], (
            result.stderr
        )
