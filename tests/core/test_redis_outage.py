"""Redis going away mid-run: pages keep working (slower), /healthz says so.

A real redis-server is started for these tests and stopped while they run; the
dashboard talks to it with the cache settings production uses (dashboard.settings).
"""

import logging
import os
import signal
import threading
import time

import pytest
from django.urls import reverse

from dashboard.core import rediscache
from dashboard.jobs import services as jobs
from dashboard.models import Job
from tests.factories import DEFAULT_PASSWORD
from tests.support.forms import job_form
from tests.support.index import catch_up
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.postgres_redis]


@pytest.fixture
def designer(on_simulator, on_redis, designer):
    """Ada, with Django on the simulator and the test's own Redis; logged into `client`
    after the switch (the shared `designer` comes last), so her session is in that Redis."""
    return designer


class TestPagesWithRedisDown:
    def test_logged_in_pages_work_before_and_after_redis_stops(self, client, designer, redis_server):
        for name in ("home", "history"):
            assert client.get(reverse(name)).status_code == 200
        redis_server.stop()
        for name in ("home", "history", "tray"):
            response = client.get(reverse(name))
            assert response.status_code == 200, name
            assert response.wsgi_request.user == designer  # the session came from the database

    def test_a_designer_can_log_in_and_out_while_redis_is_down(self, client, designer, redis_server):
        client.logout()
        redis_server.stop()
        response = client.post(reverse("login"), {"username": "ada", "password": DEFAULT_PASSWORD})
        assert response.status_code == 302
        assert client.get(reverse("home")).wsgi_request.user == designer
        assert client.post(reverse("logout")).status_code == 302
        assert client.get(reverse("home")).status_code == 302  # to the login page

    def test_a_job_is_sent_and_followed_in_the_tray_while_redis_is_down(self, client, designer, redis_server):
        redis_server.stop()
        response = client.post(
            reverse("home"),
            job_form(),
            headers={"HX-Request": "true"},
        )
        assert response.status_code == 200 and "Job sent" in response.content.decode()
        job = Job.objects.get()
        tray = client.get(reverse("tray"), headers={"HX-Request": "true"})
        assert tray.status_code == 200 and f"job-{job.history_item_id}" in tray.content.decode()
        assert "Running ·" in tray.content.decode()

        def finished() -> bool:
            catch_up()  # what the sync process does by itself: it needs no Redis either
            return not Job.objects.get(pk=job.pk).is_pending

        wait_until(finished, timeout=15, interval=0.3, message="the sync never saw the job finish")
        tray = client.get(reverse("tray"), headers={"HX-Request": "true"})
        assert tray.status_code == 200 and f"job-{job.history_item_id}" in tray.content.decode()
        assert "Running ·" not in tray.content.decode()

    def test_the_job_rate_limit_lets_jobs_through_rather_than_failing(self, designer, redis_server):
        redis_server.stop()
        assert jobs.seconds_until_allowed(designer) == 0

    def test_each_failure_is_logged_as_a_warning(self, client, designer, redis_server, caplog):
        redis_server.stop()
        with caplog.at_level(logging.WARNING, logger="dashboard.cache"):
            client.get(reverse("home"))
        assert any(
            f"Redis cache at 127.0.0.1:{redis_server.port} unavailable" in record.getMessage()
            for record in caplog.records
        )
        # The URL carries the password: no log line (nor its traceback) may.
        assert redis_server.password in redis_server.url and redis_server.password not in caplog.text

    def test_the_cache_is_used_again_once_redis_is_back(self, client, designer, redis_server):
        from django.core.cache import cache

        redis_server.stop()
        cache.set("greeting", "hello")
        assert cache.get("greeting") is None
        redis_server.start()
        cache.set("greeting", "hello")
        assert cache.get("greeting") == "hello"


class TestEveryCacheCallAnswersAsAnEmptyCache:
    def test_no_call_raises_a_redis_error_with_redis_stopped(self, on_redis):
        from django.core.cache import cache

        cache.set_many({"a": 1, "b": 2})
        on_redis.stop()
        assert cache.get("a") is None and cache.get("a", 0) == 0
        assert cache.get_many(["a", "b"]) == {}
        assert not cache.has_key("a") and "a" not in cache  # django-redis: None
        assert cache.add("c", 3) is True  # a lock taken with add() is granted: nobody holds it
        assert cache.set("c", 3) is None
        assert cache.set_many({"d": 4}) is None  # django-redis's answer, also when Redis is up
        assert cache.touch("a") is False
        assert not cache.delete("a")  # django-redis: None
        assert cache.delete_many(["a", "b"]) is None
        assert cache.get_or_set("e", lambda: "computed") == "computed"
        with pytest.raises(ValueError):
            cache.incr("a")
        with pytest.raises(ValueError):
            cache.decr("a")
        assert cache.clear() is None


class TestHealthzReportsTheCache:
    def test_ok_while_redis_answers(self, client, on_simulator, on_redis):
        response = client.get(reverse("healthz"))
        assert response.status_code == 200
        assert response.json()["cache"] == "ok"

    def test_unavailable_and_503_once_redis_stops(self, client, on_simulator, on_redis, redis_server):
        redis_server.stop()
        started = time.monotonic()
        catch_up()  # the sync keeps the index current without Redis too
        response = client.get(reverse("healthz"))
        assert response.status_code == 503
        health = response.json()
        # The lag is the seconds since the catch-up's last answer: at most those since it began.
        assert 0 <= health.pop("sync_lag_seconds") <= round(time.monotonic() - started) + 1
        assert health == {
            "status": "degraded",
            "database": "ok",
            "upstream": "ok",
            "cache": "unavailable",
            "storage": "ok",
            "worker": "stopped",  # told, not judged: no worker runs in this test
            "sync": "ok",
        }


class TestRedisIsNotAskedAgainAtOnce:
    @pytest.fixture
    def paused_for_an_hour(self, settings, on_redis):
        """The default cache with a pause of an hour after a failure. django-redis keeps
        one connection pool per URL in a process, made with the options of the first
        cache on it (on_redis's pause of 0), so this one uses a URL of its own: database 1."""
        from dashboard.settings import redis_cache_settings

        url = on_redis.url.removesuffix("/0") + "/1"
        settings.CACHES = {**settings.CACHES, "default": redis_cache_settings(url, retry_seconds=3600)}
        yield url
        rediscache._down_until.clear()

    def test_after_a_failure_the_process_waits_before_trying_redis_again(self, on_redis, paused_for_an_hour, caplog):
        import redis
        from django.core.cache import cache

        on_redis.stop()
        with caplog.at_level(logging.WARNING, logger="dashboard.cache"):
            assert cache.get("anything", "default") == "default"
            on_redis.start()
            cache.set("greeting", "hello")  # not even tried: Redis is still marked down
            assert cache.get("greeting") is None
            assert cache.add("lock", True) is True and cache.add("lock", True) is True
            with pytest.raises(ValueError):
                cache.incr("counter")
            # Nor from another thread (Django gives each thread a cache object of its own).
            other = threading.Thread(target=cache.set, args=("from-a-thread", "hello"))
            other.start()
            other.join()
        assert len(caplog.records) == 1  # one warning for the outage, not one per call
        with redis.Redis.from_url(paused_for_an_hour) as server:
            assert server.dbsize() == 0  # nothing reached Redis

        rediscache._down_until.clear()  # the hour is over
        assert cache.get("greeting") is None and cache.add("greeting", "hello") is True
        assert cache.get("greeting") == "hello"

    def test_a_hung_redis_costs_one_timeout_then_nothing_until_the_pause_ends(
        self, settings, on_redis, paused_for_an_hour
    ):
        from django.core.cache import cache

        cache.set("greeting", "hello")  # a pooled connection, which the next read will wait on
        os.kill(on_redis._process.pid, signal.SIGSTOP)  # accepts connections, answers nothing
        try:
            started = time.monotonic()
            assert cache.get("greeting") is None
            first = time.monotonic() - started
            for _ in range(20):
                assert cache.get("greeting") is None and cache.add("lock", True) is True
            rest = time.monotonic() - started - first
        finally:
            os.kill(on_redis._process.pid, signal.SIGCONT)
        assert 0.9 * settings.REDIS_TIMEOUT <= first < settings.REDIS_TIMEOUT + 1  # gave up after REDIS_TIMEOUT
        assert rest < 0.5, rest  # 40 more calls, none of them waited
