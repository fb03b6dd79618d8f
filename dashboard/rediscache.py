"""Django's Redis cache, made to degrade instead of failing while Redis is unreachable.

Every use of the cache here is an optimisation (sessions are `cached_db`: the database
keeps them), so a Redis outage must cost speed, not pages. Django's own `RedisCache`
raises on a refused connection or a timeout, which turned every logged-in page into a
500. This subclass catches Redis errors, logs a warning, and answers as an empty cache
would: `get` gives the default, `set` does nothing, `delete` says there was nothing,
`incr` raises the ValueError of a missing key (so the job rate limit lets jobs through),
and `add` says True, as an empty cache would: a poll that takes a lock with `add`
proceeds rather than waiting for a holder that does not exist.

After a failure it does not try Redis again for RETRY_AFTER_SECONDS (an OPTIONS entry,
default 5), in any thread of the process, so a Redis that hangs costs one timeout per
few seconds rather than one per cache call. Everything else is Django's backend.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlsplit

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger("dashboard.cache")

# Location -> monotonic time before which Redis is not tried again; shared by threads
# (Django keeps one cache object per thread).
_down_until: dict[str, float] = {}
_lock = threading.Lock()


class CacheUnavailable(Exception):
    """Redis did not answer; the caller gets an empty-cache answer instead."""


class ResilientRedisCache(RedisCache):
    def __init__(self, server, params):
        options = dict(params.get("OPTIONS", {}))
        self.retry_after = float(options.pop("RETRY_AFTER_SECONDS", 5))
        super().__init__(server, {**params, "OPTIONS": options})
        address = urlsplit(self._servers[0])
        # For log lines: host and port only, never the password in the URL.
        self.where = f"{address.hostname}:{address.port or 6379}"

    def _call(self, method: str, *args, **kwargs):
        if time.monotonic() < _down_until.get(self.where, 0.0):
            raise CacheUnavailable
        try:
            return getattr(super(), method)(*args, **kwargs)
        except redis.RedisError as exc:
            with _lock:
                _down_until[self.where] = time.monotonic() + self.retry_after
            logger.warning(
                "Redis cache at %s unavailable (%s: %s); serving without it, next try in %g s",
                self.where,
                type(exc).__name__,
                exc,
                self.retry_after,
            )
            raise CacheUnavailable from None

    def get(self, key, default=None, version=None):
        try:
            return self._call("get", key, default, version)
        except CacheUnavailable:
            return default

    def get_many(self, keys, version=None):
        try:
            return self._call("get_many", keys, version)
        except CacheUnavailable:
            return {}

    def has_key(self, key, version=None):
        try:
            return self._call("has_key", key, version)
        except CacheUnavailable:
            return False

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return self._call("add", key, value, timeout, version)
        except CacheUnavailable:
            return True  # the key was free, as in an empty cache

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            self._call("set", key, value, timeout, version)
        except CacheUnavailable:
            return

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return self._call("set_many", data, timeout, version)
        except CacheUnavailable:
            return list(data)  # the keys that were not stored

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return self._call("touch", key, timeout, version)
        except CacheUnavailable:
            return False

    def delete(self, key, version=None):
        try:
            return self._call("delete", key, version)
        except CacheUnavailable:
            return False

    def delete_many(self, keys, version=None):
        try:
            self._call("delete_many", keys, version)
        except CacheUnavailable:
            return

    def incr(self, key, delta=1, version=None):
        try:
            return self._call("incr", key, delta, version)
        except CacheUnavailable:
            raise ValueError(f"Key '{key}' not found (the cache is unavailable).") from None

    def clear(self):
        try:
            return self._call("clear")
        except CacheUnavailable:
            return False
