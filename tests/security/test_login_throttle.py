"""Guessing passwords: after a few failures the pair (account, address) must wait, and an
address after more failures over any accounts (a spray); an account is never locked
for every address, so nobody can lock a designer out from elsewhere.

The real login page over the test client; failures are counted in the database, so
every worker sees the same count.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_redis]

PASSWORD = DEFAULT_PASSWORD  # ada's (the shared fixture, tests/factories.py)
LOCKED = "Too many failed logins"
# The defaults (LOGIN_FAILURE_LIMIT, LOGIN_ADDRESS_FAILURE_LIMIT, LOGIN_COOLOFF_MINUTES),
# which the tests do not change.
LIMIT = 5
SPRAY_LIMIT = 30
COOL_OFF = timedelta(minutes=15)


def log_in(client: Client, username: str, password: str, **headers):
    return client.post(reverse("login"), {"username": username, "password": password}, headers=headers)


def from_address(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


class TestLoginThrottle:
    def test_a_few_wrong_passwords_then_the_right_one_still_logs_in(self, client, ada):
        for _ in range(LIMIT - 1):
            assert log_in(client, "ada", "wrong").status_code == 200
        response = log_in(client, "ada", PASSWORD)
        assert response.status_code == 302 and logged_in(client)

    def test_after_the_limit_even_the_right_password_is_refused_with_a_clear_message(self, client, ada):
        for _ in range(LIMIT):
            log_in(client, "ada", "wrong")
        response = log_in(client, "ada", PASSWORD)
        body = response.content.decode()
        assert response.status_code == 429
        assert not logged_in(client)
        assert LOCKED in body
        assert "Try again in 15 minutes" in body
        assert 'name="username"' in body  # still the login page, not a bare error

    def test_guesses_from_elsewhere_never_lock_the_designer_out_of_her_own_address(self, ada):
        for index in range(LIMIT * 3):
            log_in(from_address(f"203.0.113.{index + 1}"), "ada", "wrong")
        own = from_address("198.51.100.7")
        assert log_in(own, "ada", PASSWORD).status_code == 302 and logged_in(own)

    def test_the_pair_of_account_and_address_is_locked(self, ada):
        guesser = from_address("203.0.113.40")
        for _ in range(LIMIT):
            log_in(guesser, "ada", "wrong")
        response = log_in(guesser, "ada", PASSWORD)
        assert response.status_code == 429 and not logged_in(guesser)
        assert LOCKED in response.content.decode()

    def test_a_spray_over_accounts_locks_the_address_only_past_the_higher_limit(self, ada):
        office = from_address("203.0.113.50")
        for index in range(SPRAY_LIMIT - 1):
            log_in(office, f"someone{index}", "wrong")
        colleague = from_address("203.0.113.50")
        assert log_in(colleague, "ada", PASSWORD).status_code == 302, "a few typos behind one address lock nobody"

        log_in(office, "someone-else", "wrong")
        guesser = from_address("203.0.113.50")
        response = log_in(guesser, "ada", PASSWORD)
        assert response.status_code == 429 and not logged_in(guesser)
        own = from_address("198.51.100.8")  # Ada elsewhere is not affected
        assert log_in(own, "ada", PASSWORD).status_code == 302 and logged_in(own)

    def test_a_forged_forwarded_for_header_does_not_escape_the_pair_lock(self, ada):
        guesser = from_address("203.0.113.60")
        for index in range(LIMIT):
            log_in(guesser, "ada", "wrong", **{"X-Forwarded-For": f"192.0.2.{index + 1}"})
        response = log_in(guesser, "ada", PASSWORD, **{"X-Forwarded-For": "192.0.2.200"})
        assert response.status_code == 429 and not logged_in(guesser)

    def test_after_the_cool_off_the_right_password_works_again(self, client, ada):
        from axes.models import AccessAttempt

        for _ in range(LIMIT):
            log_in(client, "ada", "wrong")
        assert log_in(client, "ada", PASSWORD).status_code == 429
        # The cool-off passes (the attempts are made older rather than waited for).
        cool_off = COOL_OFF + timedelta(seconds=1)
        for attempt in AccessAttempt.objects.all():
            AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=attempt.attempt_time - cool_off)
        response = log_in(client, "ada", PASSWORD)
        assert response.status_code == 302 and logged_in(client)


ADDRESS_OF = (
    "from django.test import RequestFactory; from axes.helpers import get_client_ip_address; "
    "print(get_client_ip_address(RequestFactory().post('/login/', REMOTE_ADDR='10.0.0.2', HTTP_X_FORWARDED_FOR={header!r})))"
)


class TestForwardedHeadersOnlyFromTheProxy:
    """With BEHIND_PROXY on, a client that reaches the web process directly (not from
    PROXY_ADDRESSES) cannot choose its address, nor claim HTTPS, with X-Forwarded-*."""

    @pytest.fixture
    def behind_proxy(self, settings):
        settings.BEHIND_PROXY = True
        settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
        settings.AXES_IPWARE_PROXY_ORDER = "left-most"
        settings.AXES_IPWARE_PROXY_COUNT = 0
        settings.PROXY_ADDRESSES = ["10.0.0.0/8"]

    def test_a_direct_client_cannot_escape_the_lock_with_a_forged_address(self, ada, behind_proxy):
        direct = from_address("198.51.100.9")
        for index in range(LIMIT):
            log_in(direct, "ada", "wrong", **{"X-Forwarded-For": f"192.0.2.{index + 1}"})
        response = log_in(direct, "ada", PASSWORD, **{"X-Forwarded-For": "192.0.2.200"})
        assert response.status_code == 429 and not logged_in(direct)

    def test_through_the_proxy_each_client_has_its_own_address(self, ada, behind_proxy):
        proxy = from_address("10.0.0.2")
        for _ in range(LIMIT):
            log_in(proxy, "ada", "wrong", **{"X-Forwarded-For": "192.0.2.1"})
        other_client = from_address("10.0.0.2")
        response = log_in(other_client, "ada", PASSWORD, **{"X-Forwarded-For": "192.0.2.2"})
        assert response.status_code == 302 and logged_in(other_client)

    def test_only_the_proxy_can_say_a_request_came_over_https(self, behind_proxy, settings):
        settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        settings.SECURE_SSL_REDIRECT = True
        https = {"X-Forwarded-Proto": "https"}
        assert from_address("10.0.0.2").get(reverse("login"), headers=https).status_code == 200
        direct = from_address("198.51.100.9").get(reverse("login"), headers=https)
        assert direct.status_code == 301 and direct["Location"].startswith("https://")


class TestTheAddressBehindAProxy:
    """Production settings in a subprocess: the address the lockout counts."""

    @pytest.mark.parametrize(
        ("env", "header", "address"),
        [
            # Straight to the dashboard: the header is the client's own words, ignored.
            ({"BEHIND_PROXY": "false"}, "1.1.1.1", "10.0.0.2"),
            # One proxy appends the address it saw; what the client wrote before it is not used.
            ({"BEHIND_PROXY": "true"}, "1.1.1.1, 81.2.69.142", "81.2.69.142"),
            ({"BEHIND_PROXY": "true"}, "81.2.69.142", "81.2.69.142"),
            # A CDN then the load balancer: the CDN's entry is the client's.
            ({"BEHIND_PROXY": "true", "PROXY_COUNT": "2"}, "1.1.1.1, 81.2.69.142, 104.16.0.1", "81.2.69.142"),
        ],
        ids=["no-proxy", "one-proxy-forged-left", "one-proxy", "two-proxies"],
    )
    def test_the_client_address_is_the_one_the_proxies_saw(self, env, header, address):
        from tests.core.test_deploy_checks import PRODUCTION_ENV, manage

        result = manage("shell", "--no-imports", "-c", ADDRESS_OF.format(header=header), env={**PRODUCTION_ENV, **env})
        assert result.stdout.split()[-1:] == [address], result.stderr
