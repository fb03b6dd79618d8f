"""Work that finishes while the tab is hidden, in Chromium (static/js/notify.js): the tab
title says so until the tab is seen again, a desktop notification is shown to a designer
who asked for them, and a toast greets them back. A visible tab gets only the page's own
update. Push and polling bring the same news.

A hidden tab is emulated: the page's document.visibilityState is set by the test and a
"visibilitychange" sent, as a browser does when another tab is brought to the front.
Notifications are recorded rather than drawn, by a stand-in for window.Notification."""

import json
import re

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from tests.support.browser import SCREENSHOTS, axe_violations, screenshot, small_targets
from tests.support.forms import job_form
from tests.support.worker import WorkerProcess

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# `permission`: what the browser answers (null: the real one, which the context grants);
# `answer`: what asking it gives; `offered`: false for a browser without the API.
STAND_INS = """
(() => {
  const setup = %s;
  let hidden = false;
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (hidden ? "hidden" : "visible") });
  Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
  window.setTabHidden = (value) => { hidden = value; document.dispatchEvent(new Event("visibilitychange")); };
  window.shownNotifications = [];
  window.permissionAsked = 0;
  window.focusCalls = 0;
  const realFocus = window.focus.bind(window);
  window.focus = () => { window.focusCalls += 1; realFocus(); };
  const Real = window.Notification;
  if (!setup.offered) { delete window.Notification; return; }
  // The browser's answer lasts across reloads, as a site's permission does.
  let permission = window.sessionStorage.getItem("test-permission") || setup.permission;
  class Recorded {
    constructor(title, options = {}) {
      this.title = title;
      this.body = options.body;
      this.closed = false;
      window.shownNotifications.push(this);
    }
    close() { this.closed = true; }
    static get permission() { return permission || Real.permission; }
    static requestPermission() {
      window.permissionAsked += 1;
      if (!permission) return Real.requestPermission();
      if (permission === "default") permission = setup.answer;
      window.sessionStorage.setItem("test-permission", permission);
      return Promise.resolve(permission);
    }
  }
  window.Notification = Recorded;
})();
"""
SHOWN = "() => window.shownNotifications.map((each) => ({title: each.title, body: each.body, closed: each.closed}))"


@pytest.fixture
def open_tab(browser, client, designer):
    """open_tab(url, permission=None, answer="granted", offered=True): a page with the
    designer's session, a tab the test hides and shows, and notifications recorded."""
    contexts = []

    def open_tab(url: str, *, permission: str | None = None, answer: str = "granted", offered: bool = True):
        context = browser.new_context(viewport={"width": 1280, "height": 800}, permissions=["notifications"])
        contexts.append(context)
        context.set_default_timeout(10_000)
        setup = {"permission": permission, "answer": answer, "offered": offered}
        context.add_init_script(script=STAND_INS % json.dumps(setup))
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
        origin = "/".join(url.split("/")[:3])
        context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": origin}])
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
        page.goto(url)
        return page

    yield open_tab
    for context in contexts:
        context.close()


def viewport_screenshot(page, name: str) -> None:
    """What the designer sees on coming back (a toast is fixed to the window's foot)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def opt_in(page, label: str) -> None:
    toggle = page.get_by_role("button", name=label)
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator("[data-notify-state]")).to_have_text("On")


def test_the_opt_in_asks_the_browser_on_a_click_only_and_is_remembered(open_tab, asgi_app, on_simulator):
    page = open_tab(asgi_app + "/", permission="default", answer="granted")
    toggle = page.get_by_role("button", name="Notify me when my jobs finish")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(page.locator("[data-notify-state]")).to_have_text("Off")
    assert page.evaluate("window.permissionAsked") == 0, "never asked on load"
    assert axe_violations(page) == []
    assert small_targets(page) == []

    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator("[data-notify-state]")).to_have_text("On")
    assert page.evaluate("window.permissionAsked") == 1
    toggle.focus()
    screenshot(page, "notify-control-on-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#job-tray").scroll_into_view_if_needed()
    screenshot(page, "notify-control-on-390")

    page.reload()  # the choice is this browser's, and asks nothing again
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("window.permissionAsked") == 0
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    page.reload()
    expect(toggle).to_have_attribute("aria-pressed", "false")


def test_the_opt_in_says_when_the_browser_blocks_notifications_and_is_absent_without_them(
    open_tab, asgi_app, on_simulator
):
    page = open_tab(asgi_app + "/", permission="denied")
    toggle = page.get_by_role("button", name="Notify me when my jobs finish")
    expect(page.locator("[data-notify-state]")).to_have_text("Blocked by the browser")
    expect(toggle).to_have_attribute("aria-disabled", "true")
    toggle.focus()
    page.keyboard.press("Enter")  # focusable, and says why it does nothing
    expect(toggle).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("window.permissionAsked") == 0
    assert axe_violations(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme="dark")
    page.locator("#job-tray").scroll_into_view_if_needed()
    viewport_screenshot(page, "notify-control-blocked-390-dark")
    assert axe_violations(page) == []

    page = open_tab(asgi_app + "/", offered=False)
    expect(page.get_by_role("heading", name="Recent jobs")).to_be_visible()
    expect(page.locator("[data-notify-control]")).to_be_hidden()
    assert page.console_errors == []


def test_a_run_that_finishes_in_a_hidden_tab_is_told_in_the_title_a_notification_and_a_toast(
    open_tab, asgi_app, start_run, on_simulator, syncing, settings
):
    on_simulator.configure(job_seconds=3, fail_next=1)
    run = start_run(2, 1)
    page = open_tab(f"{asgi_app}/runs/{run.pk}/")
    polls = []
    page.on("request", lambda request: f"/runs/{run.pk}/poll" in request.url and polls.append(request))
    expect(page.locator("body")).to_have_attribute("data-live-stream", "open")
    opt_in(page, "Notify me when this run finishes")

    page.evaluate("setTabHidden(true)")
    with WorkerProcess(settings, sends_per_minute=600):
        expect(page).to_have_title(f"Run finished, 1 failed · Run #{run.pk} · Nextry Studio", timeout=30_000)
    assert page.evaluate(SHOWN) == [
        {"title": f"Run #{run.pk} finished", "body": "Fashion Swap: 1 result, 1 failed.", "closed": False}
    ]
    toast = page.locator("[data-notify-toast]")
    expect(toast).to_have_count(0)  # until the designer is back
    assert [request.url for request in polls if request.headers.get("x-live-refresh") != "1"] == []

    page.evaluate("window.shownNotifications[0].onclick()")  # its click brings the tab forward
    assert page.evaluate("window.focusCalls") == 1
    page.evaluate("setTabHidden(false)")
    expect(page).to_have_title(f"Run #{run.pk} · Nextry Studio")
    expect(toast).to_have_text(re.compile(rf"^Run #{run.pk} \(Fashion Swap\) finished: 1 result, 1 failed\."))
    # Pointed at, it stays while the checks below run: by itself it hides after 12 s, and
    # at load 8 the accessibility checks alone took longer (CI).
    toast.hover()
    region = page.locator("#toast-region")
    expect(region).to_have_attribute("role", "status")
    expect(region).to_have_attribute("aria-live", "polite")
    assert page.evaluate(SHOWN)[0]["closed"], "the notification goes once the tab is seen"
    assert axe_violations(page) == []
    assert small_targets(page) == []

    # Reached by keyboard (the page's last stop), with a visible ring; Escape dismisses it.
    dismiss = toast.get_by_role("button", name="Dismiss")
    page.get_by_role("link", name="Runs", exact=True).first.focus()
    for _ in range(30):
        page.keyboard.press("Tab")
        if dismiss.evaluate("node => node === document.activeElement"):
            break
    expect(dismiss).to_be_focused()
    assert dismiss.evaluate("node => getComputedStyle(node).outlineStyle") != "none"
    viewport_screenshot(page, "notify-toast-run-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    viewport_screenshot(page, "notify-toast-run-390")
    page.keyboard.press("Escape")
    expect(toast).to_have_count(0)
    assert page.evaluate("document.activeElement.id") == "main"
    assert page.console_errors == []


def test_jobs_that_end_in_a_hidden_tab_are_told_by_polling_too_without_a_notification_unasked(
    open_tab, asgi_app, client, on_simulator, syncing, pushing
):
    pushing.stop()  # no push: the tray polls
    # Still running when the page is open, on a machine loaded to 8 too (6 s was not).
    on_simulator.configure(job_seconds=12, fail_next=1)
    for _ in range(2):
        assert client.post("/", job_form(), HTTP_HX_REQUEST="true").status_code == 200
    page = open_tab(asgi_app + "/")
    expect(page.locator("body")).to_have_attribute("data-live-stream", "closed")
    expect(page.locator(".job-card.job-pending")).to_have_count(2)

    page.evaluate("setTabHidden(true)")
    expect(page).to_have_title("1 result ready, 1 failed · Generate · Nextry Studio", timeout=30_000)
    assert page.evaluate(SHOWN) == [], "not asked for: no notification"
    page.evaluate("setTabHidden(false)")
    expect(page).to_have_title("Generate · Nextry Studio")
    toast = page.locator("[data-notify-toast]")
    expect(toast).to_have_text(re.compile(r"^1 result ready, 1 failed: see Recent jobs\."))
    toast.get_by_role("button", name="Dismiss").click()
    expect(toast).to_have_count(0)
    assert page.console_errors == []


def test_a_visible_tab_gets_only_the_pages_own_update(open_tab, asgi_app, start_run, on_simulator, syncing, settings):
    on_simulator.configure(job_seconds=2)
    run = start_run(1, 1)
    page = open_tab(f"{asgi_app}/runs/{run.pk}/")
    opt_in(page, "Notify me when this run finishes")
    with WorkerProcess(settings, sends_per_minute=600):
        expect(page.get_by_text("This run has finished.")).to_be_visible(timeout=30_000)
    expect(page).to_have_title(f"Run #{run.pk} · Nextry Studio")
    page.evaluate("setTabHidden(true)")
    page.evaluate("setTabHidden(false)")  # going away and back after the end tells nothing either
    page.wait_for_timeout(300)
    assert page.evaluate(SHOWN) == []
    expect(page.locator("[data-notify-toast]")).to_have_count(0)
    expect(page).to_have_title(f"Run #{run.pk} · Nextry Studio")
