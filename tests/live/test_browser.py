"""Live updates in Chromium, on the ASGI application as a deployment serves it (pages and
the event stream), with the sync process running and Redis carrying the news."""

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import axe_violations
from tests.support.forms import job_form
from tests.support.worker import WorkerProcess

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_a_result_appears_in_the_tray_without_a_timed_poll(live_page, asgi_app, client, on_simulator, syncing):
    page = live_page
    on_simulator.configure(job_seconds=5)  # two or three polls' worth, without the stream
    client.post("/", job_form(), HTTP_HX_REQUEST="true")
    tray_requests = []
    page.on("request", lambda request: "/jobs/tray" in request.url and tray_requests.append(request))

    page.goto(asgi_app + "/")
    card = page.locator(".job-card").first
    expect(card).to_contain_text("Running")
    expect(page.locator("body")).to_have_attribute("data-live-stream", "open")
    tray_requests.clear()  # a timed poll due before the stream opened is the fallback's

    expect(card.get_by_role("img", name=re.compile("Result"))).to_be_visible(timeout=15_000)
    timed_polls = [request.url for request in tray_requests if request.headers.get("x-live-refresh") != "1"]
    assert timed_polls == []
    # The refreshes the job's news brought (its end), and perhaps the one of the stream's opening.
    assert 1 <= len(tray_requests) <= 4
    assert axe_violations(page) == []
    assert page.console_errors == []


def test_without_push_the_page_polls_as_before(live_page, asgi_app, client, on_simulator, syncing, pushing):
    page = live_page
    pushing.stop()  # Redis gone: the stream is refused, the tray polls
    on_simulator.configure(job_seconds=4)
    client.post("/", job_form(), HTTP_HX_REQUEST="true")
    tray_requests = []
    page.on("request", lambda request: "/jobs/tray" in request.url and tray_requests.append(request))

    page.goto(asgi_app + "/")
    card = page.locator(".job-card").first
    expect(page.locator("body")).to_have_attribute("data-live-stream", "closed")
    expect(card.get_by_role("img", name=re.compile("Result"))).to_be_visible(timeout=20_000)
    assert [request for request in tray_requests if request.headers.get("x-live-refresh") != "1"]


def test_push_cut_off_mid_job_falls_back_to_polling_and_nothing_is_missed(
    live_page, asgi_app, client, on_simulator, syncing, pushing
):
    page = live_page
    on_simulator.configure(job_seconds=6)
    client.post("/", job_form(), HTTP_HX_REQUEST="true")
    tray_requests = []
    page.on("request", lambda request: "/jobs/tray" in request.url and tray_requests.append(request))
    page.goto(asgi_app + "/")
    card = page.locator(".job-card").first
    expect(page.locator("body")).to_have_attribute("data-live-stream", "open")
    expect(card).to_contain_text("Running")

    pushing.stop()  # the web process's subscription breaks, its streams end; reconnecting is refused
    expect(page.locator("body")).to_have_attribute("data-live-stream", "closed", timeout=10_000)
    expect(card.get_by_role("img", name=re.compile("Result"))).to_be_visible(timeout=20_000)
    timed_polls = [request for request in tray_requests if request.headers.get("x-live-refresh") != "1"]
    assert timed_polls, "the tray went back to polling"


def test_a_running_card_in_the_gallery_ends_without_a_timed_poll(live_page, asgi_app, client, on_simulator, syncing):
    page = live_page
    on_simulator.configure(job_seconds=5)
    client.post("/", job_form(), HTTP_HX_REQUEST="true")
    polls = []
    page.on("request", lambda request: "/history/poll" in request.url and polls.append(request))

    page.goto(asgi_app + "/history/")
    card = page.locator(".result-card").first
    expect(card).to_contain_text("Running")
    expect(page.locator("body")).to_have_attribute("data-live-stream", "open")
    # A timed poll due before the stream opened is the fallback doing its job (CI's busy
    # machine once took longer than the first 2 s poll to open it): from here on, none.
    polls.clear()
    expect(card.locator(".badge")).not_to_contain_text("Running", timeout=15_000)
    assert [request.url for request in polls if request.headers.get("x-live-refresh") != "1"] == []
    assert axe_violations(page) == []


def test_a_run_page_fills_in_without_a_timed_poll(live_page, asgi_app, start_run, on_simulator, syncing, settings):
    page = live_page
    on_simulator.configure(job_seconds=3)
    run = start_run(2, 1)
    polls = []
    page.on("request", lambda request: f"/runs/{run.pk}/poll" in request.url and polls.append(request))

    with WorkerProcess(settings, sends_per_minute=600):
        page.goto(f"{asgi_app}/runs/{run.pk}/")
        expect(page.locator("body")).to_have_attribute("data-live-stream", "open")
        # A timed poll due before the stream opened is the fallback doing its job (on a
        # busy machine the stream can take longer than the young run's first poll): from
        # here on, none.
        polls.clear()
        expect(page.locator("td.matrix-cell")).to_have_count(2)
        expect(page.locator("td.cell-done")).to_have_count(2, timeout=30_000)
    expect(page.get_by_text("This run has finished.")).to_be_visible()
    expect(page).to_have_title(f"Run #{run.pk} · Nextry Studio")
    assert polls, "the run's news brought its page's refreshes"
    assert [request.url for request in polls if request.headers.get("x-live-refresh") != "1"] == []
    assert page.console_errors == []


def test_news_that_comes_while_the_run_page_is_asking_is_not_lost(live_page, asgi_app, start_run, designer):
    """The run's page asks (a refresh), its answer is drawn, and the run changes again
    before the answer arrives: the news of that change, queued by htmx on the element the
    answer replaces, is asked again of the new one."""
    from dashboard.models import RunCell
    from dashboard.runs import services as runs

    page = live_page
    run = start_run(2, 1)  # no worker: both cells wait
    first, second = run.cells.order_by("pk")
    page.goto(f"{asgi_app}/runs/{run.pk}/")
    expect(page.locator("body")).to_have_attribute("data-live-stream", "open")
    expect(page.locator("td.matrix-cell.cell-queued")).to_have_count(2)

    held = []

    def hold_the_first_answer(route):
        if held:
            route.continue_()
            return
        # A change no event tells of, so this answer has something new to draw...
        RunCell.objects.filter(pk=first.pk).update(state=RunCell.State.NOT_SENT, problem="Refused upstream.")
        held.append(route.fetch())
        # ...then one that is told (cancelling the other cell) while the answer is on its way.
        assert runs.cancel(run, designer) == 1
        page.wait_for_timeout(1000)  # the event reaches the page, whose element is still asking
        route.fulfill(response=held[0])

    page.route(f"**/runs/{run.pk}/poll*", hold_the_first_answer)
    page.evaluate("htmx.trigger('#run-live', 'live-refresh')")
    expect(page.locator("td.matrix-cell.cell-failed")).to_have_count(1)
    expect(page.locator("td.matrix-cell.cell-cancelled")).to_have_count(1, timeout=5_000)
    expect(page.get_by_text("This run has finished")).to_be_visible()
