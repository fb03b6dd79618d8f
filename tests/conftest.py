import os
import socket

import pytest

# pytest-django's live_server runs beside Playwright's sync API, which holds an event
# loop open in this thread; Django's async-safety check would refuse the ORM there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SIMULATOR_DEFAULTS = {"job_seconds": 1.0, "fail_rate": 0.0, "latency_ms": 0, "error_rate": 0.0, "error_body": "json", "rate_limit": None, "bad_body": None}


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
