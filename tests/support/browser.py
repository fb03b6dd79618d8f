"""Playwright in the tests: the fixtures and checks every browser test shares.

A pytest plugin (tests/conftest.py lists it in `pytest_plugins`), so a browser test in
any feature folder may ask for `browser`, `page`, `live_app` and `signed_in_page`, and
import `axe_violations`, `screenshot`, `small_targets` and `unringed_focus_stops`.
"""

import os
import shutil
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings as django_settings

from tests.support.simulator import PROJECT_ROOT

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# From this file, not Django's BASE_DIR: importing the plugin must not need Django's
# settings (the simulator's tests also run with `-p no:django`).
SCREENSHOTS = PROJECT_ROOT / "var" / "screenshots"


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium is needed for the browser tests: run them through `make test`, which installs it.")
    return path


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    yield page
    context.close()


@pytest.fixture
def client_pages(browser, live_server, client):
    """Opens a page of the live server in a new browser context (its own size, touch...)
    signed in as `client` is, its console errors kept: `client_pages(options, "/history/")`.
    Every context is closed after the test."""
    from django.conf import settings as django_settings

    contexts = []

    def open_at(options: dict, path: str):
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
        context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
        contexts.append(context)
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
        page.goto(live_server.url + path)
        return page

    yield open_at
    for context in contexts:
        context.close()


@pytest.fixture
def live_app(live_server, on_simulator):
    """The dashboard served over a real socket, talking to the real simulator."""
    return live_server


@pytest.fixture
def signed_in_page(page, live_app, designer, client):
    """A page whose browser carries the designer's session cookie."""
    client.force_login(designer)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_app.url}])
    return page


# Every WCAG level A and AA rule up to 2.2 (target size among them), and axe's best practices.
AXE_RULES = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa", "best-practice"],
    }
}


def axe_violations(page) -> list[str]:
    results = Axe().run(page, options=AXE_RULES)
    return [
        f"{v['id']}: {v['help']} at {', '.join(str(node['target']) for node in v['nodes'])}"
        for v in results.response["violations"]
    ]


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- Keyboard use: what every page must offer, a visible focus ring and targets big enough.

# What a keyboard or a finger aims at; a check box or radio inside a label is aimed at
# through its label, which is what is measured then.
SMALL_TARGETS = """() => {
  const found = [];
  for (const node of document.querySelectorAll("a.button, a.icon-button, .pagination a, button, input, select, summary, .result-media")) {
    if (node.type === "hidden" || node.closest("[hidden], .visually-hidden")) continue;
    const target = (node.type === "checkbox" || node.type === "radio") && node.closest("label") || node;
    const box = target.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not drawn (a closed disclosure)
    if (box.width < 24 || box.height < 24) found.push(`${node.outerHTML.slice(0, 90)}: ${box.width}x${box.height}`);
  }
  return found;
}"""

FOCUS_RING = """() => {
  const node = document.activeElement;
  if (node === document.body) return null;  // tabbed past the last stop
  const style = getComputedStyle(node);
  // The sticky top bar must not hide what is focused (WCAG 2.4.11).
  const bar = document.querySelector(".topbar");
  const box = node.getBoundingClientRect();
  const onTop = document.elementFromPoint(box.left + box.width / 2, box.top + 2);
  const covered = Boolean(bar && onTop) && !node.contains(onTop) && bar.contains(onTop) && !bar.contains(node);
  return {
    what: node.outerHTML.slice(0, 90),
    ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2 && !covered,
  };
}"""


def small_targets(page) -> list[str]:
    return page.evaluate(SMALL_TARGETS)


def unringed_focus_stops(page, stops: int, key: str = "Tab") -> list[str]:
    """Tab through the first `stops` focusable elements; those focused without a visible
    ring (none drawn, or under the sticky top bar)."""
    missing = []
    for _ in range(stops):
        page.keyboard.press(key)  # "Shift+Tab" walks back up the page
        focused = page.evaluate(FOCUS_RING)
        if focused is None:
            break
        if not focused["ring"]:
            missing.append(focused["what"])
    return missing
