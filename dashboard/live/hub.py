"""One subscription per web process, fanned out to its open event streams.

The first stream a process opens subscribes to the live channel (events.channel); every
message is then handed to each open stream it is meant for, in this process, through a
small queue per stream. A second subscription is never made while one runs, whatever
the number of streams. When Redis fails (the subscription breaks, or a ping it answers
every heartbeat goes unanswered for REDIS_TIMEOUT), every stream is ended: browsers
reconnect a moment later, are refused while Redis stays down, and poll meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field

import redis
import redis.asyncio as aioredis
from django.conf import settings

from dashboard.live import events

logger = logging.getLogger("dashboard.live")

# What a stream's queue holds at most; a stream that lags further is ended (its page
# reconnects and refreshes what it shows): one slow browser cannot hold the process's memory.
QUEUE_SIZE = 100
CLOSED = None  # put in a stream's queue: the stream ends


@dataclass(eq=False)
class Stream:
    designer_id: int
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))

    def wants(self, message: dict) -> bool:
        return message.get("for") in (None, self.designer_id)

    def offer(self, message: dict | None) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.end()

    def end(self) -> None:
        while True:
            try:
                self.queue.put_nowait(CLOSED)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()  # room for the end: what it would have said is moot


class Hub:
    """This process's subscription and its streams (one Hub per event loop)."""

    def __init__(self) -> None:
        self.streams: set[Stream] = set()
        self.listening: asyncio.Task | None = None
        self.connected = asyncio.Event()
        self.failed_at = float("-inf")
        self.stopping = False  # the web process is stopping (end_streams): no stream stays open

    def ended(self, designer_id: int) -> Stream:
        """A stream that ends after its retry hint: the browser reconnects, elsewhere."""
        stream = Stream(designer_id)
        stream.end()
        return stream

    async def open(self, designer_id: int) -> Stream | None:
        """A stream for this designer, or None when push is unavailable (no Redis, or it
        failed lately): the page keeps polling."""
        if self.stopping:
            return self.ended(designer_id)
        if not settings.REDIS_URL or time.monotonic() - self.failed_at < settings.REDIS_RETRY_SECONDS:
            return None
        if self.listening is None or self.listening.done():
            self.connected.clear()
            self.listening = asyncio.get_running_loop().create_task(self.listen())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(settings.REDIS_TIMEOUT * 2):
                await self.connected.wait()
        if not self.connected.is_set() or self.listening.done():
            return None
        if self.stopping:  # the process began to stop while this stream waited for Redis
            return self.ended(designer_id)
        stream = Stream(designer_id)
        self.streams.add(stream)
        return stream

    def close(self, stream: Stream) -> None:
        self.streams.discard(stream)

    async def listen(self) -> None:
        client = aioredis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=settings.REDIS_TIMEOUT,
            socket_timeout=settings.REDIS_TIMEOUT,
        )
        channel = events.channel()
        try:
            async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(channel)
                self.connected.set()
                await self.relay(client, pubsub)
        except (redis.RedisError, OSError) as exc:
            self.failed_at = time.monotonic()
            logger.warning("live: the subscription to Redis failed (%s); pages poll until it is back", exc)
        finally:
            self.connected.clear()
            for stream in list(self.streams):
                stream.end()
            self.streams.clear()
            await client.aclose()

    async def relay(self, client, pubsub) -> None:
        """Hand each message to the streams it is meant for; ping Redis when quiet (a hung
        server answers nothing, and would otherwise leave every stream silent for good).
        Returns when no stream has been open for a heartbeat (the subscription ends with them)."""
        last_stream_seen = last_ping = time.monotonic()
        while True:
            # A blocking read without its timeout would never notice a server gone silent.
            message = await pubsub.get_message(timeout=settings.LIVE_HEARTBEAT_SECONDS)
            if message is not None and message.get("type") == "message":
                self.fan_out(message["data"])
            now = time.monotonic()
            if self.streams:
                last_stream_seen = now
            elif now - last_stream_seen > settings.LIVE_HEARTBEAT_SECONDS:
                return
            if now - last_ping >= settings.LIVE_HEARTBEAT_SECONDS:
                await client.ping()
                last_ping = now

    def fan_out(self, raw: bytes) -> None:
        try:
            batch = json.loads(raw)
        except ValueError:
            return
        for stream in list(self.streams):
            for message in batch:
                if stream.wants(message):
                    stream.offer(message)


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def end_streams() -> int:
    """End every stream open in this event loop, and those still opening (the web process
    is stopping: its server waits for every response to finish, and a stream finishes
    only after LIVE_STREAM_SECONDS). Each ends at once, its browser reconnecting after
    the retry delay, to another worker or instance. Returns how many were open."""
    current = hub()
    current.stopping = True
    streams = list(current.streams)
    for stream in streams:
        stream.end()
    return len(streams)


def hub() -> Hub:
    """The running event loop's hub: one per web process (a test server runs its own loop)."""
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        for stale in [known for known in _hubs if known.is_closed()]:
            del _hubs[stale]
        _hubs[loop] = Hub()
    return _hubs[loop]
