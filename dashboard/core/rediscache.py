"""What django-redis's IGNORE_EXCEPTIONS leaves out for a Redis outage.

Every use of the cache here is an optimisation (sessions are `cached_db`: the database
keeps them), so a Redis outage must cost speed, not pages. The cache is django-redis
with IGNORE_EXCEPTIONS (settings.redis_cache_settings): a failed call answers as an
empty cache would (`get` the default, `get_many` {}, `set` nothing; `delete`, `has_key`
and `clear` None, which callers read as False). Two small additions remain:

- `PauseAfterFailure`, the redis-py `retry` of the pool's connections: after a connect
  or command failed it logs one warning (host:port, never the URL's password) and
  refuses every connect and command to that server for REDIS_RETRY_SECONDS, in every
  thread of the process, so a hanging Redis costs one REDIS_TIMEOUT per few seconds
  rather than one per cache call. Neither library has such a pause (redis-py's Retry
  only says how often to repeat one call), and django-redis's
  DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS logs an ERROR with a traceback for every ignored
  call, paused ones included, without saying which server.
- `EmptyCacheClient`, the CLIENT_CLASS: the three calls for which IGNORE_EXCEPTIONS'
  None is the wrong answer. `add` says True (a poll that takes a lock with `add`
  proceeds rather than waiting for a holder that does not exist), `incr`/`decr` raise
  the ValueError of a missing key (the job rate limit lets jobs through instead of
  comparing None with a number), and `touch`, which django-redis does not guard at all,
  says False instead of raising.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlsplit

import redis
from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger("dashboard.cache")

# host:port -> monotonic time before which that Redis is not tried again; shared by all
# threads and pools of the process (each connection holds its own copy of the Retry).
_down_until: dict[str, float] = {}
_lock = threading.Lock()


class PauseAfterFailure(Retry):
    """redis-py runs every connect and every command of a connection through its
    `retry`: this one repeats nothing (redis-py's default for a pool), and after a
    connection error or a timeout refuses all of them for `seconds`. An error reply
    (ResponseError) is no outage: IGNORE_EXCEPTIONS answers it, but it starts no pause."""

    def __init__(self, url: str, seconds: float):
        super().__init__(NoBackoff(), 0)
        address = urlsplit(url)
        self.where = f"{address.hostname}:{address.port or 6379}"  # for log lines: never the password
        self.seconds = seconds

    def call_with_retry(self, do, fail, *args, **kwargs):
        if time.monotonic() < _down_until.get(self.where, 0.0):
            raise redis.ConnectionError(f"Redis at {self.where} failed recently; not tried again yet")
        try:
            return super().call_with_retry(do, fail, *args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            now = time.monotonic()
            with _lock:
                already_down = now < _down_until.get(self.where, 0.0)  # a connect within a command
                _down_until[self.where] = now + self.seconds
            if not already_down:
                logger.warning(
                    "Redis cache at %s unavailable (%s: %s); serving without it, next try in %g s",
                    self.where,
                    type(exc).__name__,
                    exc,
                    self.seconds,
                )
            raise


class EmptyCacheClient(DefaultClient):
    def add(self, *args, **kwargs):
        try:
            return super().add(*args, **kwargs)
        except ConnectionInterrupted:
            return True  # the key was free, as in an empty cache

    def incr(self, key, *args, **kwargs):
        try:
            return super().incr(key, *args, **kwargs)
        except ConnectionInterrupted:
            raise ValueError(f"Key {key!r} not found (the cache is unavailable).") from None

    def decr(self, key, *args, **kwargs):
        try:
            return super().decr(key, *args, **kwargs)
        except ConnectionInterrupted:
            raise ValueError(f"Key {key!r} not found (the cache is unavailable).") from None

    def touch(self, *args, **kwargs):
        try:
            return super().touch(*args, **kwargs)
        except redis.RedisError:
            return False  # no such key to touch
