"""`manage.py check --deploy` warns about settings that break with several workers:
SQLite, the per-process memory cache, and inputs on the local disk."""

import pytest
from django.core import checks

from dashboard.settings import media_storage_settings, redis_cache_settings
from tests.core.test_deploy_checks import PRODUCTION_ENV, manage

SCALED_OUT_ENV = {
    **PRODUCTION_ENV,
    "WEB_CONCURRENCY": "4",
    "DATABASE_URL": "postgres://nextry:secret@db.internal:5432/nextry",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "MEDIA_STORAGE": "s3",
    "AWS_STORAGE_BUCKET_NAME": "studio-inputs",
}
LOCAL_MEMORY = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
REDIS = redis_cache_settings("redis://cache.internal:6379/0")


def deploy_warnings() -> dict[str, checks.CheckMessage]:
    return {message.id: message for message in checks.run_checks(tags=["dashboard"], include_deployment_checks=True)}


def use_engine(monkeypatch, settings, engine: str) -> None:
    # Only the name the check reads; replacing DATABASES would reconnect the tests.
    monkeypatch.setitem(settings.DATABASES["default"], "ENGINE", engine)


@pytest.fixture
def scaled_out(settings, monkeypatch):
    """A proper multi-worker configuration, changed by each test in one respect."""
    settings.WEB_CONCURRENCY = 4
    use_engine(monkeypatch, settings, "django.db.backends.postgresql")
    settings.CACHES = {**settings.CACHES, "default": REDIS}
    settings.STORAGES = {
        **settings.STORAGES,
        "default": media_storage_settings({"MEDIA_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "b"}),
    }
    return settings


class TestEachWarning:
    def test_none_on_postgresql_redis_and_s3(self, scaled_out):
        assert deploy_warnings() == {}

    def test_sqlite_with_several_workers(self, scaled_out, monkeypatch):
        use_engine(monkeypatch, scaled_out, "django.db.backends.sqlite3")
        (warning,) = deploy_warnings().values()
        assert warning.id == "dashboard.W001" and warning.level == checks.WARNING
        assert "SQLite" in warning.msg and "4 workers" in warning.msg
        assert "DATABASE_URL" in warning.hint

    def test_the_memory_cache_with_several_workers(self, scaled_out):
        scaled_out.CACHES = {**scaled_out.CACHES, "default": LOCAL_MEMORY}
        (warning,) = deploy_warnings().values()
        assert warning.id == "dashboard.W002"
        assert "own memory" in warning.msg and "REDIS_URL" in warning.hint and "rate limit" in warning.hint

    def test_inputs_on_the_local_disk_with_several_workers(self, scaled_out):
        scaled_out.STORAGES = {**scaled_out.STORAGES, "default": media_storage_settings({})}
        (warning,) = deploy_warnings().values()
        assert warning.id == "dashboard.W003"
        assert "MEDIA_ROOT" in warning.msg and "MEDIA_STORAGE=s3" in warning.hint

    def test_one_worker_on_the_local_defaults_is_fine(self, scaled_out, monkeypatch):
        scaled_out.WEB_CONCURRENCY = 1
        use_engine(monkeypatch, scaled_out, "django.db.backends.sqlite3")
        scaled_out.CACHES = {**scaled_out.CACHES, "default": LOCAL_MEMORY}
        scaled_out.STORAGES = {**scaled_out.STORAGES, "default": media_storage_settings({})}
        assert deploy_warnings() == {}

    def test_they_are_deploy_checks_only(self, scaled_out):
        scaled_out.CACHES = {**scaled_out.CACHES, "default": LOCAL_MEMORY}
        assert checks.run_checks(tags=["dashboard"]) == []


class TestCheckDeploy:
    def test_several_workers_on_the_local_defaults_get_all_three_warnings(self):
        result = manage("check", "--deploy", env={**PRODUCTION_ENV, "WEB_CONCURRENCY": "3"})
        for check_id in ("dashboard.W001", "dashboard.W002", "dashboard.W003"):
            assert check_id in result.stderr, result.stdout + result.stderr

    def test_postgresql_redis_and_s3_pass_with_no_warning(self):
        result = manage("check", "--deploy", "--fail-level", "WARNING", env=SCALED_OUT_ENV)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "System check identified no issues" in result.stdout
