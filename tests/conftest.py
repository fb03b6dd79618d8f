import os
import socket
import time

import pytest

# Shared fixtures of their own module: the browser tests' (Playwright) in every feature
# folder. Only this root conftest may list plugins.
pytest_plugins = ["tests.support.browser"]

# pytest-django's live_server runs beside Playwright's sync API, which holds an event
# loop open in this thread; Django's async-safety check would refuse the ORM there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def clear_caches() -> None:
    """Empty every cache; a Redis only when this test run started it.

    Clearing a Redis cache is FLUSHDB. REDIS_URL could name somebody's real server, so a
    Redis is flushed only when its run_id (INFO server) is the one the runner started
    (TEST_REDIS_RUN_ID) or one a fixture started in this process; otherwise the run stops.
    """
    from django.core.cache import caches

    from tests.support.services import REDIS_RUN_ID_ENV, STARTED_REDIS_RUN_IDS

    for alias in caches:
        backend = caches[alias]
        if "redis" in type(backend).__module__ + type(backend).__name__.lower():
            import redis
            from django_redis import get_redis_connection

            server = get_redis_connection(alias)  # raises for a Redis backend other than django-redis's
            try:
                run_id = server.info("server")["run_id"]
            except redis.ConnectionError:
                continue  # a server that is down holds nothing to clear
            if run_id != os.environ.get(REDIS_RUN_ID_ENV) and run_id not in STARTED_REDIS_RUN_IDS:
                address = server.connection_pool.connection_kwargs
                pytest.exit(
                    f"Refusing to flush the Redis at {address['host']}:{address['port']} (cache {alias!r}): this test "
                    f"run did not start it. Run the tests through `make test`, which starts a private Redis.",
                    returncode=3,
                )
        backend.clear()


@pytest.fixture(autouse=True)
def _one_rate_limit_window(monkeypatch):
    """Per-minute limits count in fixed one-minute windows: a test sending a few forms
    must not straddle two of them on a slow machine (the count would start again), so
    the window's clock stands still in the middle of the minute the test began in."""
    from dashboard.core import ratelimit

    start = time.time()
    still = start - start % ratelimit.WINDOW_SECONDS + ratelimit.WINDOW_SECONDS / 2
    monkeypatch.setattr(ratelimit, "clock", lambda: still)


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_caches()
    yield
    clear_caches()


# --- Designers (tests/factories.py) -----------------------------------------------------
# The team every test may ask for, each made by DesignerFactory (password DEFAULT_PASSWORD).
# A module whose designer needs more (the simulator, settings) says so with a fixture of
# the same name that asks for this one and the rest.


@pytest.fixture
def ada(db):
    """Ada, a designer; logged in nowhere."""
    from tests.factories import DesignerFactory

    return DesignerFactory(username="ada")


@pytest.fixture
def designer(ada, client):
    """Ada, logged into `client`: the designer most tests act as."""
    client.force_login(ada)
    return ada


@pytest.fixture
def bob(db):
    """Bob, a second designer of the team; logged in nowhere."""
    from tests.factories import DesignerFactory

    return DesignerFactory(username="bob")


@pytest.fixture
def teammate(db):
    """Grace, another designer of the team; logged in nowhere."""
    from tests.factories import DesignerFactory

    return DesignerFactory(username="grace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SIMULATOR_DEFAULTS = {
    "job_seconds": 1.0,
    "fail_rate": 0.0,
    "latency_ms": 0,
    "error_rate": 0.0,
    "error_body": "json",
    "rate_limit": None,
    "bad_body": None,
    "log_delay_ms": 0,
    "fail_next": 0,
}


@pytest.fixture(scope="session")
def simulator_process(tmp_path_factory):
    from tests.support.simulator import SimulatorProcess

    with SimulatorProcess(tmp_path_factory.mktemp("simulator"), env={"SIMULATOR_JOB_SECONDS": "1"}) as process:
        yield process


@pytest.fixture
def simulator(simulator_process):
    """The real simulator over HTTP; its fault knobs are reset after every test."""
    yield simulator_process
    if not simulator_process.running:
        simulator_process.start()
    simulator_process.configure(**SIMULATOR_DEFAULTS)


@pytest.fixture
def on_simulator(settings, simulator):
    """Django pointed at the real simulator for this test."""
    settings.GENAPI_BASE_URL = simulator.base_url
    settings.GENAPI_API_KEY = simulator.api_key
    return simulator


@pytest.fixture
def redis_server():
    """A redis-server of the test's own, which the test may stop and start again."""
    from tests.support.services import RedisServer

    with RedisServer() as server:
        yield server


@pytest.fixture
def on_redis(settings, redis_server):
    """The default cache (and so the cached sessions) on the test's own Redis, with the
    settings production uses; Redis is tried again at every call after a failure, so
    a restart is seen at once."""
    from dashboard.settings import redis_cache_settings

    settings.CACHES = {**settings.CACHES, "default": redis_cache_settings(redis_server.url, retry_seconds=0)}
    return redis_server


@pytest.fixture
def syncing(settings, transactional_db):
    """The sync process running (in a thread, paced fast) while the test lasts: the index
    follows the upstream by itself, as in a deployment."""
    from tests.support.sync import sync_running

    with sync_running(settings) as thread:
        yield thread


def pytest_collection_modifyitems(config, items):
    """Tests marked rq_only are left out (deselected, not skipped) of the runs on the
    database task backend: what they check does not exist there."""
    from django.conf import settings

    if settings.TASKS_BACKEND == "rq":
        return
    kept, deselected = [], []
    for item in items:
        (deselected if item.get_closest_marker("rq_only") else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
