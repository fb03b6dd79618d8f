"""A team admin in a real Chromium: from the dashboard's login to the admin, a designer
added, the page clean under the site's Content-Security-Policy."""

import re

import pytest
from playwright.sync_api import expect

from dashboard.accounts.roles import set_team_admin
from tests.factories import DEFAULT_PASSWORD, DesignerFactory
from tests.support.browser import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_team_admin_adds_a_designer_in_the_admin(page, live_app):
    set_team_admin(DesignerFactory(username="tess"), True)
    page.goto(live_app.url + "/admin/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/admin/$"))
    expect(page.get_by_label("Username")).to_be_focused()  # autofocus done: typing goes where aimed
    page.get_by_label("Username").fill("tess")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Designers, roles and the audit trail")).to_be_visible()
    screenshot(page, "admin-index")
    page.get_by_role("link", name="Users").click()
    page.get_by_role("link", name="Add user").click()
    # The form takes the focus to Username when it has loaded (autofocus): typing before
    # that sent a password into Username once, in a loaded full run.
    page.wait_for_load_state("load")
    expect(page.get_by_label("Username")).to_be_focused()
    page.get_by_label("Username").fill("nina")
    page.locator("#id_password1").fill("linen-drapes-in-october")
    page.locator("#id_password2").fill("linen-drapes-in-october")
    expect(page.get_by_label("Username")).to_have_value("nina")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("nina")
    expect(page.get_by_label("Team admin")).not_to_be_checked()
    screenshot(page, "admin-designer")
    assert page.console_errors == [], "the admin breaks the site's Content-Security-Policy"
