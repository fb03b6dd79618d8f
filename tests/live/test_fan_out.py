"""The push path's two halves against a real Redis (a redis-server of the test's own):
what the services publish, and one web process's hub handing it to its open streams."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async

from dashboard.live import events
from dashboard.live.hub import CLOSED, Hub


def run(scenario):
    """The scenario on an event loop of its own, in a thread: Playwright's sync API (a
    browser test earlier in this worker) leaves a loop running in the main thread."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, scenario()).result()


async def next_message(stream, seconds: float = 5.0):
    return await asyncio.wait_for(stream.queue.get(), seconds)


def test_a_change_reaches_every_open_stream_and_a_job_only_its_maker(pushing):
    async def scenario():
        hub = Hub()
        ada, bob = await hub.open(1), await hub.open(2)
        assert ada is not None and bob is not None
        assert len(hub.streams) == 2
        await sync_to_async(events.changes)(["result-a"], designers=[1], runs=[7])
        ada_got = [await next_message(ada) for _ in range(3)]
        bob_got = [await next_message(bob) for _ in range(2)]
        hub.close(ada)
        hub.close(bob)
        return ada_got, bob_got

    ada_got, bob_got = run(scenario)
    assert {m["event"] for m in ada_got} == {"result-changed", "job-changed", "run-changed"}
    assert {m["event"] for m in bob_got} == {"result-changed", "run-changed"}
    assert next(m for m in ada_got if m["event"] == "job-changed")["data"] == {"ids": ["result-a"], "more": False}
    assert next(m for m in bob_got if m["event"] == "run-changed")["data"] == {"runs": [7]}


def test_one_subscription_serves_every_stream(pushing):
    import redis

    async def scenario():
        hub = Hub()
        streams = [await hub.open(designer) for designer in range(50)]
        subscribers = redis.Redis.from_url(pushing.url).pubsub_numsub(events.channel())
        for stream in streams:
            hub.close(stream)
        return subscribers

    [(_, count)] = run(scenario)
    assert count == 1


def test_without_redis_there_is_no_stream_and_nothing_is_published(settings):
    settings.REDIS_URL = ""

    async def scenario():
        return await Hub().open(1)

    assert run(scenario) is None
    events.changes(["result-a"], designers=[1])  # nothing to publish to: no error


def test_redis_going_away_ends_the_streams_and_refuses_new_ones_until_it_is_back(pushing, settings):
    settings.REDIS_RETRY_SECONDS = 30

    async def scenario():
        hub = Hub()
        stream = await hub.open(1)
        assert stream is not None
        await asyncio.to_thread(pushing.stop)
        ended = await next_message(stream, seconds=10)
        refused = await hub.open(1)
        return ended, refused

    ended, refused = run(scenario)
    assert ended is CLOSED
    assert refused is None


def test_when_the_process_stops_every_stream_ends_and_one_opened_after_ends_at_once(pushing):
    from dashboard.live.hub import end_streams, hub

    async def scenario():
        current = hub()  # the one end_streams() ends: this event loop's
        streams = [await current.open(designer) for designer in (1, 2)]
        ended = end_streams()
        got = [await next_message(stream) for stream in streams]
        late = await current.open(3)  # a request already accepted as the server stopped
        return ended, got, await next_message(late), current.streams

    ended, got, late_got, still_open = run(scenario)
    assert ended == 2
    assert got == [CLOSED, CLOSED]
    assert late_got is CLOSED  # its browser reconnects (elsewhere) after the retry hint
    assert still_open == set()
