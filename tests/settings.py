"""Test settings: a thin override of the real module."""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-not-for-production")
os.environ.setdefault("HTTPS", "false")

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
