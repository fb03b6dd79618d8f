"""What open tabs cost: no upstream call, and no timed poll while their stream is open.

Every open tab used to poll (the tray and the gallery's running cards every 2 s while
jobs are young): a team of 200 with three tabs each was 300 requests a second. Pages read
the index, so those polls never reached the upstream: the sync process is the only status
poller, and what it asks does not depend on how many tabs are open. With server push a
tab whose stream is open sends no timed poll at all, only a refresh when news comes.

Measured over the same interval with 1 open tab, then with 50 (3 Chromium pages and 47
plain HTTP clients holding /events/ open, as EventSource does), jobs running throughout,
on the ASGI application as deployed with the sync running (in a thread of this process)."""

import logging
import threading

import pytest
from django.conf import settings as django_settings

from dashboard.models import IndexedResult
from tests.live.test_stream import open_stream
from tests.support.forms import job_form
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

WINDOW = 6.0  # three of a young job's timed polls (FAST_POLL_SECONDS = 2)
TABS = 50
PAGES = ("/", "/history/", "/")  # Chromium's three tabs; the rest are plain streams
STATUS_PATH = "/user/generation-history"


class GenapiCalls(logging.Handler):
    """Every upstream call the process logs (dashboard.genapi), with the thread that made it."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.calls: list[tuple[str, str]] = []
        self.guard = threading.Lock()  # (Handler.handle() holds its own self.lock around emit)

    def emit(self, record: logging.LogRecord) -> None:
        with self.guard:
            self.calls.append((record.threadName or "", record.getMessage()))

    def since(self, mark: int) -> list[tuple[str, str]]:
        with self.guard:
            return self.calls[mark:]


@pytest.fixture
def genapi_calls():
    handler = GenapiCalls()
    logger = logging.getLogger("dashboard.genapi")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def status_calls(simulator, after_seq: int) -> int:
    """The upstream's status reads since `after_seq` (its access log): listings and single reads."""
    return sum(
        1
        for entry in simulator.requests()
        if entry["seq"] > after_seq
        and entry["method"] == "GET"
        and entry["path"].startswith(STATUS_PATH)
        and "/feedback" not in entry["path"]
    )


def last_seq(simulator) -> int:
    return max((entry["seq"] for entry in simulator.requests()), default=0)


def open_tab(browser, base_url: str, path: str, cookie) -> tuple:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])
    page = context.new_page()
    requests_seen: list = []
    page.on("request", lambda request: requests_seen.append(request))
    page.goto(base_url + path)
    page.wait_for_selector("body[data-live-stream=open]", state="attached")
    return context, page, requests_seen


def window(simulator, genapi_calls, page, tabs_requests: list[list]) -> dict:
    """What WINDOW seconds cost: the upstream's status reads, the calls each thread made,
    and the requests each Chromium tab sent to the dashboard."""
    seq, mark = last_seq(simulator), len(genapi_calls.calls)
    seen = [len(requests) for requests in tabs_requests]
    page.wait_for_timeout(WINDOW * 1000)  # Playwright's events (every tab's requests) are taken meanwhile
    return {
        "status_calls": status_calls(simulator, seq),
        "threads": {thread for thread, _ in genapi_calls.since(mark)},
        "tab_requests": [requests[start:] for requests, start in zip(tabs_requests, seen, strict=True)],
    }


def test_fifty_open_tabs_cost_the_upstream_what_one_does_and_poll_nothing(
    browser, asgi_app, designer, client, on_simulator, syncing, genapi_calls
):
    on_simulator.configure(job_seconds=120)  # running for the whole test
    for _ in range(2):
        client.post("/", job_form(), HTTP_HX_REQUEST="true")
    wait_until(
        lambda: IndexedResult.objects.filter(status="pending").count() == 2,
        timeout=15,
        message="the sync did not index the two running jobs",
    )
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    contexts, streams = [], []
    try:
        context, page, first_tab = open_tab(browser, asgi_app, PAGES[0], cookie)
        contexts.append(context)
        one = window(on_simulator, genapi_calls, page, [first_tab])

        tabs = [first_tab]
        for path in PAGES[1:]:
            context, _, requests_seen = open_tab(browser, asgi_app, path, cookie)
            contexts.append(context)
            tabs.append(requests_seen)
        streams += [open_stream(asgi_app, client) for _ in range(TABS - len(PAGES))]
        for response, _ in streams:
            assert response.status_code == 200
        many = window(on_simulator, genapi_calls, page, tabs)
    finally:
        for context in contexts:
            context.close()
        for response, _ in streams:
            response.close()

    # The sync alone asks the upstream, at its own pace: the same with 50 tabs as with 1.
    assert one["threads"] <= {syncing.name} and many["threads"] <= {syncing.name}
    assert one["status_calls"] > 0
    # Only "not more" is the claim: the sync's own pace varies with the machine's load
    # (42 calls with one tab and 27 with fifty in one window at load 8).
    assert many["status_calls"] <= one["status_calls"] + max(3, one["status_calls"] // 4), (one, many)
    # With their stream open the tabs send no timed poll (nothing changed: no refresh either).
    for requests_seen in one["tab_requests"] + many["tab_requests"]:
        timed = [r.url for r in requests_seen if r.headers.get("x-live-refresh") != "1" and "/events/" not in r.url]
        assert timed == []
