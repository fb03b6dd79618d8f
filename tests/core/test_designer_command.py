"""`manage.py designer`: an operator lets designers in and out without `manage.py shell`."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db
GOOD = "linen-drapes-in-october"


def designer(*args: str, stdin: str = "") -> str:
    out = io.StringIO()
    import sys

    saved, sys.stdin = sys.stdin, io.StringIO(stdin + "\n")
    try:
        call_command("designer", *args, stdout=out)
    finally:
        sys.stdin = saved
    return out.getvalue()


def test_an_added_designer_logs_in_and_sees_the_dashboard(client):
    said = designer(
        "add", "alice", "--email", "alice@studio.example", "--name", "Alice", "--password-stdin", stdin=GOOD
    )
    assert "alice can log in now" in said
    response = client.post(reverse("login"), {"username": "alice", "password": GOOD})
    assert response.status_code == 302
    assert client.get(reverse("history")).status_code == 200


def test_a_weak_password_or_a_taken_name_is_refused_and_nothing_changes():
    with pytest.raises(CommandError, match="too common"):
        designer("add", "alice", "--password-stdin", stdin="password123")
    assert not get_user_model().objects.exists()
    designer("add", "alice", "--password-stdin", stdin=GOOD)
    with pytest.raises(CommandError, match="already has an account"):
        designer("add", "ALICE", "--password-stdin", stdin=GOOD)
    with pytest.raises(CommandError, match="not an email address"):
        designer("add", "bob", "--email", "bob at studio", "--password-stdin", stdin=GOOD)


def test_removed_a_designer_is_signed_out_at_the_next_click_and_their_work_stays(client):
    designer("add", "alice", "--password-stdin", stdin=GOOD)
    client.post(reverse("login"), {"username": "alice", "password": GOOD})
    assert client.get(reverse("history")).status_code == 200
    assert "can no longer log in" in designer("remove", "alice")
    assert client.get(reverse("history")).status_code == 302  # to the login page
    assert client.post(reverse("login"), {"username": "alice", "password": GOOD}).status_code == 200  # refused
    assert get_user_model().objects.filter(username="alice").exists()
    assert "alice\tdesigner\tremoved" in designer("list")
    assert "alice is back" in designer("add", "alice", "--password-stdin", stdin="a-new-one-for-november")


def test_a_new_password_signs_out_the_old_sessions(client):
    designer("add", "alice", "--password-stdin", stdin=GOOD)
    client.post(reverse("login"), {"username": "alice", "password": GOOD})
    designer("password", "alice", "--password-stdin", stdin="a-new-one-for-november")
    assert client.get(reverse("history")).status_code == 302
    with pytest.raises(CommandError, match="There is no designer 'nobody'"):
        designer("password", "nobody", "--password-stdin", stdin=GOOD)


def test_a_team_admin_made_here_opens_the_admin_until_made_a_designer_again(client):
    designer("add", "tess", "--team-admin", "--password-stdin", stdin=GOOD)
    client.post(reverse("login"), {"username": "tess", "password": GOOD})
    assert client.get(reverse("admin:index")).status_code == 200
    assert "tess\tteam admin\tcan log in" in designer("list")
    assert "tess is a designer" in designer("role", "tess", "designer")
    assert client.get(reverse("admin:index")).status_code == 302
    assert "tess\tdesigner\tcan log in" in designer("list")
