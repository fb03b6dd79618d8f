"""Test settings: a thin override of the real module."""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-production")
os.environ.setdefault("HTTPS", "false")


def redis_url_of_this_worker(url: str, worker: str) -> str:
    """The Redis database of one pytest-xdist worker (gw0, gw1...): the URL's own
    database number plus the worker's. The tests empty the cache around every test
    (FLUSHDB, tests/conftest.py), which must never empty another worker's."""
    from urllib.parse import urlsplit, urlunsplit

    if not url or not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) + int(worker.removeprefix("gw"))
    if database > 15:
        raise RuntimeError(f"pytest-xdist worker {worker} has no Redis database of its own (Redis has 0 to 15)")
    return urlunsplit(parts._replace(path=f"/{database}"))


# Set in the environment, not only in CACHES: the processes the tests start (the
# background worker, manage.py) read REDIS_URL too and must share this worker's database.
# Worked out from the run's own URL, kept aside, so that a process started with these
# settings again does not move one database further.
if os.environ.get("REDIS_URL"):
    run_url = os.environ.setdefault("TEST_RUN_REDIS_URL", os.environ["REDIS_URL"])
    os.environ["REDIS_URL"] = redis_url_of_this_worker(run_url, os.environ.get("PYTEST_XDIST_WORKER", ""))

from dashboard.settings import *  # noqa: E402,F403

GENAPI_BASE_URL = "http://genapi.test"
GENAPI_API_KEY = "test-api-key"
GENAPI_READ_RETRIES = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# A file, not SQLite's shared in-memory database: the live server's thread then gets a
# connection of its own instead of sharing the test thread's (which fails under load).
import tempfile  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"nextry-tests-{os.getpid()}.sqlite3")}  # noqa: F405

# `manage.py lintmigrations` (django-migration-linter, a test dependency): `make lint`
# checks that every new migration keeps working with the previous release's code
# (README, "Upgrading"); its options are in pyproject.toml, [tool.django_migration_linter].
INSTALLED_APPS = [*INSTALLED_APPS, "django_migration_linter"]  # noqa: F405
