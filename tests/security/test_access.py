"""Who may do what: logins, CSRF tokens and HTTP methods, for every URL of the project.

The URLconf is walked, not listed by hand: a view added later is checked too, and one
missing from `support.METHODS` fails `test_every_url_is_classified` until it is added.
The upstream is a `responses` mock with nothing registered: a refused request must not
reach it at all, and nothing may change in the database either.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import responses
from django.conf import settings as django_settings
from django.middleware.csrf import get_token
from django.shortcuts import resolve_url
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils.crypto import get_random_string

from dashboard.models import InputImage, Job
from tests.factories import DEFAULT_PASSWORD, InputImageFactory, JobFactory, RunCellFactory, RunFactory
from tests.security.support import (
    CHANGING,
    HTMX,
    METHODS,
    PUBLIC,
    Ids,
    kwargs_for,
    routes,
)

# On PostgreSQL and Redis too: every check here goes through a session (kept in the shared
# cache and the database), and logging out must end it there.
pytestmark = [pytest.mark.django_db, pytest.mark.postgres_redis]

ROUTES = routes()
ITEM = "0123456789abcdef01234567"
# Enough for any form to be read: what a real submission would carry.
FORM = {
    "like": "true",
    "action": "delete",
    "ids": [ITEM],
    "tool": "fashion_swap",
    "next": "/",
    "username": "ada",
    "password": DEFAULT_PASSWORD,
}


@pytest.fixture
def someone_elses_work(teammate):
    """A Job and an input of another designer: what a refused request must not touch."""
    image = InputImageFactory(owner=teammate, original_name="a.png")
    job = JobFactory(history_item_id=ITEM, designer=teammate)
    run = RunFactory(designer=teammate)
    RunCellFactory(run=run, row=0, column=0, row_image=image)
    return Ids(
        items=[job.history_item_id],
        input_pks=[image.pk],
        tool="fashion_swap",
        style_id="aaaaaaaaaaaaaaaaaaaaaaaa",
        run_ids=[run.pk],
    )


def snapshot() -> tuple:
    return (
        list(Job.objects.order_by("pk").values_list("pk", "history_item_id", "status", "error_message")),
        list(InputImage.objects.order_by("pk").values_list("pk", "file")),
    )


def assert_no_upstream_call(no_upstream) -> None:
    """Nothing reached the upstream; then, as the control, a call made on purpose (the
    health check asks for the tool list) does show in the mock's record."""
    assert [call.request.url for call in no_upstream.calls] == []
    Client().get(reverse("healthz"))
    assert [urlsplit(call.request.url).path for call in no_upstream.calls] == ["/generation/tools"], (
        "the mock records no call"
    )


@pytest.fixture
def no_upstream():
    """Every upstream call fails loudly in `calls`; a refused request must make none."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def urls(ids: Ids, names=None) -> list[tuple[str, str]]:
    return [
        (route.name, reverse(route.name, kwargs=kwargs))
        for route in ROUTES
        if names is None or route.name in names
        for kwargs in kwargs_for(route, ids)
    ]


class TestTheUrlconf:
    def test_every_url_is_classified(self):
        names = [route.name for route in ROUTES]
        assert "" not in names, "an unnamed URL pattern cannot be checked"
        assert sorted(names) == sorted(METHODS), "classify the new view's methods in tests/security/support.py"


class TestAVisitorWhoIsNotLoggedIn:
    def test_is_sent_to_the_login_page_from_every_private_page(self, client, someone_elses_work, no_upstream):
        login = resolve_url(django_settings.LOGIN_URL)
        before = snapshot()
        checked = 0
        for name, url in urls(someone_elses_work):
            if name in PUBLIC:
                continue
            for headers in ({}, HTMX):
                response = client.get(url, headers=headers)
                assert response.status_code == 302, f"GET {url}: {response.status_code}"
                assert response["Location"].startswith(f"{login}?next="), f"GET {url} -> {response['Location']}"
                checked += 1
        assert checked >= 2 * (len(METHODS) - len(PUBLIC))
        assert_no_upstream_call(no_upstream)
        assert snapshot() == before

    @pytest.mark.parametrize("csrf", [False, True], ids=["no-csrf-checks", "csrf-enforced"])
    def test_cannot_change_anything(self, csrf, someone_elses_work, no_upstream):
        visitor = Client(enforce_csrf_checks=csrf)
        login = resolve_url(django_settings.LOGIN_URL)
        before = snapshot()
        for name, url in urls(someone_elses_work):
            if name in PUBLIC:
                continue
            for method in ("post", "put", "patch", "delete"):
                for headers in ({}, HTMX):
                    response = getattr(visitor, method)(url, FORM if method == "post" else "", headers=headers)
                    where = f"{method.upper()} {url}: {response.status_code}"
                    assert response.status_code in (302, 403), where
                    if response.status_code == 302:
                        assert response["Location"].startswith(f"{login}?next="), where
        assert_no_upstream_call(no_upstream)
        assert snapshot() == before

    def test_may_see_the_login_page_and_the_health_check(self, client, settings, no_upstream):
        no_upstream.get(f"{settings.GENAPI_BASE_URL}/generation/tools", json=[])
        assert client.get(reverse("login")).status_code == 200
        assert client.get(reverse("healthz")).status_code == 200
        assert client.get(reverse("metrics")).status_code == 404  # no METRICS_TOKEN set: no metrics
        assert sorted(PUBLIC) == ["healthz", "login", "metrics"]


@pytest.fixture
def designer(ada):
    """Ada, logged in nowhere: each test logs in the clients it means to."""
    return ada


class TestCsrf:
    def test_every_change_without_a_token_is_refused(self, designer, someone_elses_work, no_upstream):
        browser = Client(enforce_csrf_checks=True)
        before = snapshot()
        refused = set()
        for name, url in urls(someone_elses_work):
            for method in ("post", "put", "patch", "delete"):
                for headers in ({}, HTMX):
                    browser.force_login(designer)
                    response = getattr(browser, method)(url, FORM if method == "post" else "", headers=headers)
                    assert response.status_code == 403, (
                        f"{method.upper()} {url} without a CSRF token: {response.status_code}"
                    )
                    refused.add(name)
        assert CHANGING <= refused
        assert_no_upstream_call(no_upstream)
        assert snapshot() == before

    def test_a_token_from_another_session_is_refused(self, designer, someone_elses_work, no_upstream):
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(designer)
        browser.cookies[django_settings.CSRF_COOKIE_NAME] = get_random_string(32)
        stranger = get_token(RequestFactory().get("/"))  # valid shape, another secret
        before = snapshot()
        for name in sorted(CHANGING):
            for _, url in urls(someone_elses_work, {name}):
                response = browser.post(url, FORM, headers={"X-CSRFToken": stranger})
                assert response.status_code == 403, f"POST {url} with a foreign token: {response.status_code}"
        assert_no_upstream_call(no_upstream)
        assert snapshot() == before

    def test_the_same_request_with_its_token_is_accepted(self, designer, no_upstream):
        # The control for the two tests above: the 403s come from the missing token.
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(designer)
        secret = get_random_string(32)
        browser.cookies[django_settings.CSRF_COOKIE_NAME] = secret
        response = browser.post(reverse("history_bulk"), {}, headers={"X-CSRFToken": secret})
        assert response.status_code == 303
        response = browser.post(reverse("logout"), {"csrfmiddlewaretoken": secret})
        assert response.status_code == 302
        assert "_auth_user_id" not in browser.session


class TestHttpMethods:
    @pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
    def test_every_other_method_is_refused_with_405(self, route, designer, client, someone_elses_work, no_upstream):
        before = snapshot()
        for kwargs in kwargs_for(route, someone_elses_work):
            url = reverse(route.name, kwargs=kwargs)
            for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - route.methods):
                # Public pages are checked as a visitor sees them (a logged-in designer is
                # sent home from the login page whatever the method).
                if route.name in PUBLIC:
                    client.logout()
                else:
                    client.force_login(designer)
                send = getattr(client, method.lower())
                response = send(url, FORM) if method == "POST" else send(url)
                assert response.status_code == 405, f"{method} {url}: {response.status_code}"
                assert set(response["Allow"].replace(" ", "").split(",")) - {"OPTIONS", "HEAD"} <= route.methods
        assert_no_upstream_call(no_upstream)
        assert snapshot() == before

    def test_logging_out_needs_a_post(self, designer, client):
        client.force_login(designer)
        assert client.get(reverse("logout")).status_code == 405
        assert "_auth_user_id" in client.session
