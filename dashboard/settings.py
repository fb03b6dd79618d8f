"""Settings for the dashboard: one module, every deployment knob read from the environment.

Each variable, its default and its meaning is listed in README.md ("Configuration").
The defaults are safe for a laptop; production sets DEBUG=false and real secrets.
"""

import ipaddress
import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number") from exc


def env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number") from exc


DEBUG = env_bool("DEBUG", False)

LOCAL_DATA_DIR = BASE_DIR / "var"

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # On a developer's own machine: a random key made once and kept in var/, so logins
    # survive a restart of `make demo` and no key is ever written in the code.
    LOCAL_DATA_DIR.mkdir(exist_ok=True)
    key_file = LOCAL_DATA_DIR / "development-secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    # Django's admin, for team admins and operators (dashboard/accounts/).
    "dashboard.accounts.apps.TeamAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Django's own widget templates, for the form renderer below.
    "django.forms",
    "django_htmx",
    "axes",
    "django_tasks_db",
    "dashboard",
]

# Background work (sending the jobs of matrix runs) goes through Django's tasks
# framework; TASKS_BACKEND chooses where the tasks wait (TASKS is set below, after
# REDIS_URL): "database", the default, in the project's own database (django-tasks-db),
# or "rq", in Redis (django-tasks-rq). `manage.py run_worker` runs the chosen one's
# worker (see README: Deployment, the worker).
TASKS_BACKEND = os.environ.get("TASKS_BACKEND", "").strip().lower() or "database"
if TASKS_BACKEND not in ("database", "rq"):
    raise ImproperlyConfigured(f'TASKS_BACKEND must be "database" or "rq", not {TASKS_BACKEND!r}.')

MIDDLEWARE = [
    # Before all: every line logged while answering carries the request's id.
    "dashboard.observability.logs.RequestId",
    # First: what follows reads X-Forwarded-* (HTTPS, the client's address) only when a proxy sent it.
    "dashboard.core.proxies.ForwardedHeadersFromProxiesOnly",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below whitenoise, which answers static files itself (precompressed): gzip never
    # sees them. Above everything that writes the body, so it compresses the final one.
    # Text only, and why compressing pages is safe here: see its docstring.
    "dashboard.core.middleware.TextGZipMiddleware",
    "dashboard.core.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
# Forms draw their widgets with the project's templates (templates/core/widgets/).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
WSGI_APPLICATION = "dashboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.core.context_processors.upstream_status",
            ],
        },
    },
]

if not os.environ.get("DATABASE_URL"):
    # The local SQLite default needs its folder; production sets DATABASE_URL.
    LOCAL_DATA_DIR.mkdir(exist_ok=True)
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{LOCAL_DATA_DIR / 'dashboard.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several workers writing to one SQLite file: WAL lets readers and a writer work
    # together, and IMMEDIATE transactions wait for the lock instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
# PostgreSQL's default random_page_cost (4) prices a page read as on a spinning disk: the
# planner then counted a gallery's results by reading the whole table (5,000 pages at
# 100,000 results) rather than its index, twice as slow on SSD or cached data. Sent with
# each connection; empty leaves the server's own (a PgBouncer in transaction mode refuses
# startup options unless told to ignore them: set it on the server instead).
POSTGRES_RANDOM_PAGE_COST = os.environ.get("POSTGRES_RANDOM_PAGE_COST", "1.1").strip()
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and POSTGRES_RANDOM_PAGE_COST:
    page_cost = env_float("POSTGRES_RANDOM_PAGE_COST", 1.1)  # a clear error for a value that is not a number
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"-c random_page_cost={page_cost}"
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that does not answer (its host down, a network cut) fails a request in
    # this many seconds, with the "database unavailable" page, rather than the system's
    # TCP timeout of minutes.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("DATABASE_CONNECT_TIMEOUT", 2)
# psycopg's connection pool (PostgreSQL only), off unless DATABASE_POOL_MAX is set: each
# worker process then keeps between DATABASE_POOL_MIN and DATABASE_POOL_MAX connections
# for all its threads, and a request waits up to DATABASE_POOL_TIMEOUT seconds for a free
# one. README ("Scaling out") has the arithmetic against PostgreSQL's max_connections.
DATABASE_POOL_MAX = env_int("DATABASE_POOL_MAX", 0)
if DATABASE_POOL_MAX > 0:
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_POOL_MAX needs PostgreSQL (a postgres:// DATABASE_URL).")
    from psycopg_pool import ConnectionPool

    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "pool": {
            "min_size": min(env_int("DATABASE_POOL_MIN", 1), DATABASE_POOL_MAX),
            "max_size": DATABASE_POOL_MAX,
            "timeout": env_float("DATABASE_POOL_TIMEOUT", 3.0),
            # A connection broken by a database restart is replaced, not handed out.
            "check": ConnectionPool.check_connection,
        },
    }
    # The pool keeps connections open and checks them; Django must hand each back at
    # the end of a request rather than keep it per thread, and need not check it itself.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A Redis that is down or slow must cost speed, not pages: calls give up after
# REDIS_TIMEOUT seconds and the cache then answers "nothing cached" (sessions come from
# the database) without trying Redis again for REDIS_RETRY_SECONDS. django-redis's
# IGNORE_EXCEPTIONS does most of it; rediscache.py has the pause, the warning and the
# empty-cache answers of add and incr.
REDIS_TIMEOUT = env_float("REDIS_TIMEOUT", 1.0)
REDIS_RETRY_SECONDS = env_float("REDIS_RETRY_SECONDS", 5.0)


def redis_cache_settings(url: str, retry_seconds: float | None = None) -> dict:
    """The cache settings for a Redis at `url` (also used by the tests)."""
    from dashboard.core.rediscache import PauseAfterFailure

    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": url,
        "OPTIONS": {
            "CLIENT_CLASS": "dashboard.core.rediscache.EmptyCacheClient",
            "IGNORE_EXCEPTIONS": True,
            "SOCKET_CONNECT_TIMEOUT": REDIS_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_TIMEOUT,
            # django-redis keeps one pool per URL in a process, made with the options of
            # the first cache to use it: this applies to every cache on that URL.
            "CONNECTION_POOL_KWARGS": {
                "retry": PauseAfterFailure(url, REDIS_RETRY_SECONDS if retry_seconds is None else retry_seconds)
            },
        },
    }


REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = {
    # Shared by every worker with REDIS_URL; per process without it.
    "default": (
        redis_cache_settings(REDIS_URL) if REDIS_URL else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
    # Always this process's own memory: what must keep working when Redis does not.
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "local"},
}

TASK_QUEUES = ["default"]


def rq_queue_settings(url: str) -> dict:
    """An RQ queue on the Redis at `url` (also used by the tests). Its commands give up
    after REDIS_TIMEOUT, as the cache's do, so a web request starting a run never hangs
    on a Redis that accepts and does not answer; RQ's worker lengthens the timeout
    itself for its blocking wait for the next task."""
    parts = urlsplit(url)
    timeouts = urlencode({"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT})
    return {"URL": urlunsplit(parts._replace(query=f"{parts.query}&{timeouts}" if parts.query else timeouts))}


if TASKS_BACKEND == "rq":
    if not REDIS_URL:
        raise ImproperlyConfigured("TASKS_BACKEND=rq keeps the tasks in Redis: set REDIS_URL too.")
    INSTALLED_APPS.append("django_rq")
    # dashboard/runs/backends/rq.py: django-tasks-rq, answering in Django's own exceptions.
    TASKS = {"default": {"BACKEND": "dashboard.runs.backends.rq.RQBackend", "QUEUES": TASK_QUEUES}}
    RQ_QUEUES = {name: rq_queue_settings(REDIS_URL) for name in TASK_QUEUES}
    RQ = {
        # django-tasks-rq's jobs run Django tasks; rqworker needs their class too.
        "JOB_CLASS": "django_tasks_rq.backend.Job",
        # Each task in the worker's own process, as the database backend's worker does: a
        # killed worker takes its task with it (a forked child would go on sending
        # with no heartbeat beside it), and the heartbeat's thread stays alive.
        "WORKER_CLASS": "rq.worker.SimpleWorker",
    }
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": TASK_QUEUES}}
# How long /healthz reuses its probe of the upstream (it is public: a flood of hits
# must not spend the API key's rate limit). 0 probes on every hit.
HEALTHZ_CACHE_SECONDS = env_int("HEALTHZ_CACHE_SECONDS", 15)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes counts failed logins (in the database, so every worker sees them) and
# refuses an account, or an address, after LOGIN_FAILURE_LIMIT of them for the cool-off.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
# The pair (account, address), and the address alone after more failures (a spray);
# never an account from every address (dashboard/core/lockout.py).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_HANDLER = "dashboard.core.lockout.PairAndAddressHandler"
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 30)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "dashboard.core.views.locked_out"
# Lockouts in the admin: a team admin lifts one by deleting its access attempt.
AXES_ENABLE_ADMIN = True
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where `collectstatic` writes (whitenoise serves it from there).
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", LOCAL_DATA_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", LOCAL_DATA_DIR / "media"))


def _number(environ, name: str, default: float) -> float:
    try:
        return float(environ.get(name) or default)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number") from exc


def media_storage_settings(environ) -> dict:
    """Where uploaded inputs are kept: MEDIA_STORAGE=local (MEDIA_ROOT) or s3.

    With s3, django-storages' S3 backend writes to AWS_STORAGE_BUCKET_NAME (on AWS, or
    any S3-compatible server at AWS_S3_ENDPOINT_URL). Credentials come from
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY when set, otherwise from boto3's own
    chain (an instance or task role). Objects stay private (the bucket's ACL, signed
    URLs only); the dashboard serves them itself, behind the login. Either backend
    raises StorageUnavailable when the store fails (dashboard/core/storage.py).
    """
    kind = environ.get("MEDIA_STORAGE", "local") or "local"
    if kind == "local":
        return {"BACKEND": "dashboard.core.storage.LocalMediaStorage"}
    if kind != "s3":
        raise ImproperlyConfigured(f"MEDIA_STORAGE must be 'local' or 's3', not {kind!r}.")
    bucket = environ.get("AWS_STORAGE_BUCKET_NAME", "")
    if not bucket:
        raise ImproperlyConfigured("MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME.")
    from botocore.config import Config

    # botocore's own defaults (60 s to connect, 60 s per read, 4 retries with backoff)
    # held a page for over a minute while S3 was out of reach, before failing anyway.
    client_config = Config(
        s3={"addressing_style": environ.get("AWS_S3_ADDRESSING_STYLE") or None},
        connect_timeout=_number(environ, "STORAGE_CONNECT_TIMEOUT", 2),
        read_timeout=_number(environ, "STORAGE_READ_TIMEOUT", 5),
        retries={"mode": "standard", "total_max_attempts": 1 + int(_number(environ, "STORAGE_RETRIES", 1))},
    )
    return {
        "BACKEND": "dashboard.core.s3storage.S3MediaStorage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": environ.get("AWS_S3_ENDPOINT_URL") or None,
            "region_name": environ.get("AWS_S3_REGION_NAME") or None,
            "access_key": environ.get("AWS_ACCESS_KEY_ID") or None,
            "secret_key": environ.get("AWS_SECRET_ACCESS_KEY") or None,
            "location": environ.get("AWS_LOCATION", ""),
            "client_config": client_config,
            "default_acl": None,  # the bucket's own (private) ACL
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }


# After the image store could not be reached, each process answers "not answering" at once
# for this long rather than wait its timeouts again for every image (dashboard/core/storage.py).
STORAGE_RETRY_SECONDS = env_float("STORAGE_RETRY_SECONDS", 5.0)

STORAGES = {
    # Uploaded inputs are private: served only through a login-protected view, never
    # from a public URL, so there is deliberately no MEDIA_URL route.
    "default": media_storage_settings(os.environ),
    "staticfiles": {
        "BACKEND": (
            "dashboard.core.staticfiles.ManifestStaticFiles"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Worker processes per instance. gunicorn reads WEB_CONCURRENCY as its worker count;
# the deployment checks (dashboard/core/checks.py) read it to warn about per-process state.
WEB_CONCURRENCY = env_int("WEB_CONCURRENCY", 1)
# Threads per worker process that serve pages (dashboard/asgi.py: Django's WSGI handler on
# a2wsgi's thread pool, as gunicorn's --threads did before the event streams came).
WEB_THREADS = env_int("WEB_THREADS", 8)

# --- Live updates (dashboard/live/): server-sent events, with Redis pub/sub between processes
# A comment on each open stream after this many quiet seconds (proxies close silent connections).
LIVE_HEARTBEAT_SECONDS = env_float("LIVE_HEARTBEAT_SECONDS", 15.0)
# A stream ends after this long; the browser reconnects at once (to any instance) and its
# session is checked again.
LIVE_STREAM_SECONDS = env_float("LIVE_STREAM_SECONDS", 600.0)
# The reconnection delay a stream asks of the browser (the `retry:` field), in milliseconds.
LIVE_RETRY_MS = env_int("LIVE_RETRY_MS", 2000)

# --- The generation API -------------------------------------------------------------
GENAPI_BASE_URL = os.environ.get("GENAPI_BASE_URL", "http://127.0.0.1:8001")
GENAPI_API_KEY = os.environ.get("GENAPI_API_KEY", "")
GENAPI_CONNECT_TIMEOUT = env_float("GENAPI_CONNECT_TIMEOUT", 3.05)
GENAPI_READ_TIMEOUT = env_float("GENAPI_READ_TIMEOUT", 15.0)
# Job creation uploads two large photos; it gets a longer read timeout of its own.
GENAPI_UPLOAD_TIMEOUT = env_float("GENAPI_UPLOAD_TIMEOUT", 60.0)
GENAPI_READ_RETRIES = env_int("GENAPI_READ_RETRIES", 2)
# The whole of one upstream call, headers and body, whatever its per-read timeouts: an
# upstream that drips its answer cannot hold a worker thread for longer than this.
GENAPI_DEADLINE = env_float("GENAPI_DEADLINE", 30)
GENAPI_UPLOAD_DEADLINE = env_float("GENAPI_UPLOAD_DEADLINE", 120)

# Finished history items and their images never change (likes are refreshed when changed
# here), so they are cached for this long.
GENAPI_ITEM_CACHE_SECONDS = env_int("GENAPI_ITEM_CACHE_SECONDS", 600)

# Which image slots each tool takes: not documented upstream, so it is one table that
# a deployment may replace with GENAPI_TOOL_SLOTS (JSON). See dashboard/core/slots.py.
GENAPI_TOOL_SLOTS_JSON = os.environ.get("GENAPI_TOOL_SLOTS", "")

# --- Uploads ------------------------------------------------------------------------
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_MB", 20) * 1024 * 1024
UPLOAD_MAX_PIXELS = env_int("UPLOAD_MAX_MEGAPIXELS", 40) * 1_000_000
# The whole request body (every image of one job together, plus the form).
REQUEST_MAX_BYTES = env_int("REQUEST_MAX_MB", 45) * 1024 * 1024
# Photos one designer may add per minute, in number and in bytes (0 turns a limit off).
UPLOADS_PER_MINUTE = env_int("UPLOADS_PER_MINUTE", 60)
# New photos read (checked, decoded) from one request at most; the rest are refused
# unread, by name, to be added again: a hostile image can cost a third of a second of CPU.
UPLOADS_PER_REQUEST = env_int("UPLOADS_PER_REQUEST", 30)
UPLOAD_BYTES_PER_MINUTE = env_int("UPLOAD_MB_PER_MINUTE", 300) * 1024 * 1024
# Drafts (uploads no job uses) kept per designer, oldest dropped first, and for how long
# `manage.py prune_drafts` keeps them.
DRAFTS_PER_DESIGNER = env_int("DRAFTS_PER_DESIGNER", 20)
DRAFT_BYTES_PER_DESIGNER = env_int("DRAFT_MB_PER_DESIGNER", 200) * 1024 * 1024
DRAFT_MAX_AGE_HOURS = env_float("DRAFT_MAX_AGE_HOURS", 24)
# Seconds one ZIP download may take in all (an upstream that drips its images must not
# hold a web thread for as long as it likes); what is not read by then is listed in the
# archive's manifest as left out.
DOWNLOAD_DEADLINE_SECONDS = env_float("DOWNLOAD_DEADLINE_SECONDS", 180)
# Days a deleted result stays in the trash before `manage.py purge_trash` deletes it upstream.
TRASH_DAYS = env_float("TRASH_DAYS", 30)
# Jobs one designer may send per minute (0 turns the limit off).
JOB_RATE_LIMIT_PER_MINUTE = env_int("JOB_RATE_LIMIT_PER_MINUTE", 30)
# The sync process (`manage.py sync_index`, the Procfile's `sync`): how often it asks
# for the running results (and how often around each one's expected end, with the most
# calls a minute those earlier listings may take), the newest results, and one page of
# its sweep of the whole history; the most upstream calls it makes a minute; the lease
# that keeps a second sync process waiting; and when the index counts as out of date.
SYNC_RUNNING_SECONDS = env_float("SYNC_RUNNING_SECONDS", 1)
SYNC_RUNNING_FAST_SECONDS = env_float("SYNC_RUNNING_FAST_SECONDS", 0.25)
SYNC_RUNNING_FAST_CALLS_PER_MINUTE = env_int("SYNC_RUNNING_FAST_CALLS_PER_MINUTE", 60)
SYNC_FOLLOW_SECONDS = env_float("SYNC_FOLLOW_SECONDS", 10)
SYNC_SWEEP_PAGE_SECONDS = env_float("SYNC_SWEEP_PAGE_SECONDS", 5)
SYNC_CALLS_PER_MINUTE = env_int("SYNC_CALLS_PER_MINUTE", 180)
SYNC_LEASE_SECONDS = env_float("SYNC_LEASE_SECONDS", 30)
SYNC_STANDBY_SECONDS = env_float("SYNC_STANDBY_SECONDS", 5)
SYNC_IDLE_SECONDS = env_float("SYNC_IDLE_SECONDS", 0.5)
SYNC_STALE_SECONDS = env_float("SYNC_STALE_SECONDS", 60)
# Bulk like, dislike and delete in the gallery: upstream calls made at once, and the
# time all of them together may take (what is not done by then is listed as not done).
BULK_CONCURRENCY = max(1, env_int("BULK_CONCURRENCY", 4))
BULK_DEADLINE_SECONDS = env_float("BULK_DEADLINE_SECONDS", 20)
# Matrix runs: the most jobs one run may hold, and how many jobs a minute the workers
# send together (keep it under the upstream's rate limit; a 429 also slows them down).
RUN_MAX_JOBS = env_int("RUN_MAX_JOBS", 100)
RUN_SENDS_PER_MINUTE = env_int("RUN_SENDS_PER_MINUTE", 60)
# Background workers (`manage.py run_worker`) beat every WORKER_BEAT_SECONDS; one silent
# for WORKER_DEAD_AFTER_SECONDS is dead, and the others send what it held.
WORKER_BEAT_SECONDS = env_float("WORKER_BEAT_SECONDS", 5)
WORKER_DEAD_AFTER_SECONDS = env_float("WORKER_DEAD_AFTER_SECONDS", 30)
# Library images no job ever used are removed after this many days (`manage.py prune_library`).
LIBRARY_UNUSED_DAYS = env_float("LIBRARY_UNUSED_DAYS", 30)
# A job of ours that the upstream says it does not know is kept this long before its
# record is dropped (a listing can lag behind a job just created).
MISSING_JOB_GRACE_SECONDS = env_int("MISSING_JOB_GRACE_SECONDS", 120)
# Large photos go to a temporary file rather than memory (the default is 2.5 MB).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Security -----------------------------------------------------------------------
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Sessions are read on every request: from the cache first (Redis in production), the
# database only when the cache has lost them.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie.

HTTPS = env_bool("HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("SECURE_SSL_REDIRECT", True)
# A load balancer probes its instances over plain HTTP, inside the network: /healthz
# answers it there rather than redirecting (it reveals nothing; see core/views.healthz).
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS and env_bool("SECURE_HSTS_PRELOAD", False)
# The client's address, for the login lockout: the connection's own address, unless a
# proxy is in front; then the entry in X-Forwarded-For that the proxies appended (any
# entry further left is whatever the client chose to send, and is never trusted).
AXES_IPWARE_META_PRECEDENCE_ORDER: tuple[str, ...] = ("REMOTE_ADDR",)
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
# The proxies' own addresses (or networks): only a request coming from one of them may
# carry X-Forwarded-* headers (dashboard/core/proxies.py). By default loopback and the
# private networks, which no client on the internet can connect from.
PROXY_ADDRESSES = env_list("PROXY_ADDRESSES", "127.0.0.0/8,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7")
for _address in PROXY_ADDRESSES:
    try:
        ipaddress.ip_network(_address, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(f"PROXY_ADDRESSES: {exc} (addresses or networks, comma-separated).") from exc
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    AXES_IPWARE_PROXY_ORDER = "left-most"
    # python-ipware counts the proxies listed in the header: all but the last one,
    # whose address is the connection's own.
    AXES_IPWARE_PROXY_COUNT = max(0, env_int("PROXY_COUNT", 1) - 1)
    # Not strict: a chain longer than the proxies (the client wrote its own header)
    # still yields the address the first trusted proxy saw, not the proxy's own.
    IPWARE_STRICT = False
SILENCED_SYSTEM_CHECKS = [] if not HTTPS or SECURE_HSTS_PRELOAD else ["security.W021"]

# --- Logging, metrics and errors (dashboard/observability/) -----------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
# json: one object a line, for a log collector (the default in production); text: plain
# lines for a terminal (the default with DEBUG on, as in `make demo`). Both carry the
# request id (or a task's id and cell, or the sync's tick) and never the API key.
LOG_FORMAT = (os.environ.get("LOG_FORMAT") or ("text" if DEBUG else "json")).strip().lower()
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'json' or 'text', not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "dashboard.observability.logs.AddContext"}},
    "formatters": {
        "json": {"()": "dashboard.observability.logs.Json"},
        "text": {"()": "dashboard.observability.logs.Text"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "dashboard": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Our own line per request (dashboard.requests) says it, with the request id.
        "django.server": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        # Lockouts are warnings; the routine "attempts cleared" lines are left out.
        "axes": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
# /metrics answers only a request with "Authorization: Bearer <METRICS_TOKEN>"; without
# the setting it does not exist (404).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# Errors go to Sentry when set (dashboard/observability/errors.py: key and photos scrubbed).
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
SENTRY_ENVIRONMENT = os.environ.get("SENTRY_ENVIRONMENT", "production")
