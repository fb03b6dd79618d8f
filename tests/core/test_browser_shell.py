import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import axe_violations, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class TestLoginAndShell:
    def test_designer_logs_in_and_sees_the_dashboard_shell(self, page, live_app, designer):
        page.goto(live_app.url + "/")
        expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        assert axe_violations(page) == []
        screenshot(page, "login-1440")

        page.get_by_label("Username").fill("ada")
        page.get_by_label("Password").fill("correct horse battery")
        page.get_by_role("button", name="Log in").click()

        expect(page).to_have_url(live_app.url + "/")
        expect(page.get_by_role("link", name="Nextry Studio")).to_be_visible()
        expect(page.get_by_text("ada")).to_be_visible()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
        assert axe_violations(page) == []
        assert page.console_errors == []
        screenshot(page, "shell-1440")

    def test_a_wrong_password_is_refused_with_a_message(self, page, live_app, designer):
        page.goto(live_app.url + "/login/")
        page.get_by_label("Username").fill("ada")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("correct username and password")
        expect(page).to_have_url(re.compile(r"/login/$"))

    def test_logging_out_returns_to_the_login_page(self, signed_in_page, live_app):
        page = signed_in_page
        page.goto(live_app.url + "/")
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        page.goto(live_app.url + "/")
        expect(page).to_have_url(re.compile(r"/login/"))


class TestOneRuleForSizesAndTimes:
    """core.js writes sizes and elapsed times in the browser (a photo not yet uploaded, a
    job still running); it must read exactly as the server writes them (core/display.py)."""

    SIZES = [
        0,
        1,
        2,
        1023,
        1024,
        1075,
        1076,
        1536,
        10 * 1024 - 52,
        1024**2 - 1,
        1024**2,
        20 * 1024**2,
        20 * 1024**2 + 52_429,
    ]
    SIZES += [int(1.05 * 1024**2), 3 * 1024**3 + 1, 999_999_999]
    SECONDS = [0, 1, 59, 60, 61, 119, 3599, 3600, 3661, 86_399, 90_061]

    def test_the_browser_and_the_server_agree(self, signed_in_page, live_app):
        from datetime import timedelta

        from django.utils import timezone

        from dashboard.core import display

        page = signed_in_page
        page.goto(live_app.url + "/history/")
        core = "await import('/static/js/core.js')"
        in_browser = page.evaluate(f"async sizes => sizes.map(({core}).formatBytes)", self.SIZES)
        assert in_browser == [display.describe_size(size) for size in self.SIZES]
        now = timezone.now()
        in_browser = page.evaluate(f"async seconds => seconds.map(({core}).durationText)", self.SECONDS)
        assert in_browser == [display.duration(now - timedelta(seconds=s), now) for s in self.SECONDS]
