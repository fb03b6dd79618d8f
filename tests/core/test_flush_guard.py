"""The tests empty the cache around every test; on Redis that is FLUSHDB, so only a
Redis the test run started itself may ever be flushed (tests/conftest.py)."""

import pytest
import redis

from dashboard.settings import redis_cache_settings
from tests.conftest import clear_caches
from tests.support.services import STARTED_REDIS_RUN_IDS

pytestmark = pytest.mark.postgres_redis


@pytest.fixture
def somebody_elses_redis(settings, redis_server):
    """A real Redis holding data, which this test run is not known to have started."""
    STARTED_REDIS_RUN_IDS.discard(redis_server.run_id)
    settings.CACHES = {**settings.CACHES, "default": redis_cache_settings(redis_server.url)}
    client = redis.Redis.from_url(redis_server.url)
    client.set("precious", "data")
    yield client
    client.close()


def test_a_redis_the_run_did_not_start_is_not_flushed_and_the_run_stops(somebody_elses_redis):
    with pytest.raises(pytest.exit.Exception, match="Refusing to flush the Redis at 127.0.0.1:"):
        clear_caches()
    assert somebody_elses_redis.get("precious") == b"data"


def test_the_runs_own_redis_is_flushed(somebody_elses_redis, redis_server):
    STARTED_REDIS_RUN_IDS.add(redis_server.run_id)
    clear_caches()
    assert somebody_elses_redis.get("precious") is None
