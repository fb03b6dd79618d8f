"""Team admins manage the team's accounts in Django's admin; designers never get in, and
a team admin cannot make themselves (or anyone) an operator.

The real admin and login pages over the test client, on the real database.
"""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from dashboard.accounts.roles import TEAM_ADMINS, is_team_admin, set_team_admin
from dashboard.models import AuditEntry
from tests.factories import DEFAULT_PASSWORD, DesignerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_redis]

NEW_PASSWORD = "linen-drapes-in-october"


def log_in(client: Client, username: str, password: str = DEFAULT_PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


@pytest.fixture
def tess(db):
    """Tess, a team admin; logged in nowhere."""
    user = DesignerFactory(username="tess")
    set_team_admin(user, True)
    return user


@pytest.fixture
def team_admin(tess, client):
    assert log_in(client, "tess").status_code == 302
    return client


def change_form(user, **changes) -> dict:
    """The admin change form of `user` as a browser would send it, with `changes`."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on" if user.is_active else "",
        "team_admin": "on" if is_team_admin(user) else "",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        **changes,
    }
    return {key: value for key, value in data.items() if value != ""}


def test_a_team_admin_lets_a_new_designer_in_and_the_designer_can_work(team_admin):
    assert 'href="/admin/">Team</a>' in team_admin.get(reverse("history")).content.decode()
    assert team_admin.get(reverse("admin:index")).status_code == 200
    response = team_admin.post(
        reverse("admin:auth_user_add"),
        {"username": "nina", "usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    nina = Client()
    assert log_in(nina, "nina", NEW_PASSWORD).status_code == 302
    page = nina.get(reverse("history"))
    assert page.status_code == 200 and 'href="/admin/"' not in page.content.decode()
    assert nina.get(reverse("admin:index")).status_code == 302, "a new account is a designer, not a team admin"


def test_a_team_admin_gives_and_takes_the_role_and_deactivates_a_leaver(team_admin, ada):
    url = reverse("admin:auth_user_change", args=[ada.pk])
    assert team_admin.post(url, change_form(ada, team_admin="on")).status_code == 302
    ada.refresh_from_db()
    assert is_team_admin(ada) and ada.is_staff
    other = Client()
    log_in(other, "ada")
    assert other.get(reverse("admin:index")).status_code == 200

    assert team_admin.post(url, change_form(ada, team_admin="", is_active="")).status_code == 302
    ada.refresh_from_db()
    assert not is_team_admin(ada) and not ada.is_staff and not ada.is_active
    assert get_user_model().objects.filter(username="ada").exists(), "a leaver is kept, deactivated"
    assert other.get(reverse("history")).status_code == 302, "signed out at the next click"


def test_a_team_admin_can_make_nobody_an_operator_nor_change_or_delete_one(team_admin, ada, tess):
    operator = DesignerFactory(username="olga", is_superuser=True, is_staff=True)
    team_admin.post(
        reverse("admin:auth_user_change", args=[ada.pk]), change_form(ada, is_superuser="on", user_permissions="1")
    )
    team_admin.post(reverse("admin:auth_user_change", args=[tess.pk]), change_form(tess, is_superuser="on"))
    ada.refresh_from_db()
    tess.refresh_from_db()
    assert not ada.is_superuser and not tess.is_superuser
    assert not ada.user_permissions.exists()
    operator_page = reverse("admin:auth_user_change", args=[operator.pk])
    assert "Save" not in team_admin.get(operator_page).content.decode(), "an operator's account is shown read-only"
    assert team_admin.post(operator_page, change_form(operator, is_active="")).status_code == 403
    assert team_admin.post(reverse("admin:auth_user_password_change", args=[operator.pk]), {}).status_code == 403
    assert team_admin.post(reverse("admin:auth_user_delete", args=[ada.pk]), {"post": "yes"}).status_code == 403
    assert get_user_model().objects.filter(username="ada").exists()
    operator.refresh_from_db()
    assert operator.is_active and operator.check_password(DEFAULT_PASSWORD)


def test_an_operator_makes_an_operator(client, ada):
    DesignerFactory(username="olga", is_superuser=True, is_staff=True)
    log_in(client, "olga")
    client.post(reverse("admin:auth_user_change", args=[ada.pk]), change_form(ada, is_superuser="on"))
    ada.refresh_from_db()
    assert ada.is_superuser and ada.is_staff


def test_a_designer_is_kept_out_and_a_visitor_is_sent_to_the_dashboards_login(client, ada):
    response = client.get(reverse("admin:index"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("login")), response.redirect_chain
    assert 'name="username"' in response.content.decode()

    log_in(client, "ada")
    response = client.get(reverse("admin:index"), follow=True)
    assert response.status_code == 200
    assert "not authorized to access this page" in response.content.decode()
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 302


def test_the_audit_trail_is_read_only(team_admin, ada):
    AuditEntry.objects.create(actor=ada, actor_name="ada", action=AuditEntry.Action.LIKE, history_item_id="abc123")
    response = team_admin.get(reverse("admin:dashboard_auditentry_changelist"))
    assert response.status_code == 200 and "abc123" in response.content.decode()
    assert team_admin.get(reverse("admin:dashboard_auditentry_add")).status_code == 403
    entry = AuditEntry.objects.get()
    team_admin.post(reverse("admin:dashboard_auditentry_change", args=[entry.pk]), {"actor_name": "mallory"})
    entry.refresh_from_db()
    assert entry.actor_name == "ada"


def test_a_team_admin_lifts_a_designers_login_lockout(team_admin, ada):
    locked_out = Client()
    for _ in range(5):
        log_in(locked_out, "ada", "wrong")
    assert log_in(locked_out, "ada").status_code == 429
    attempt = AccessAttempt.objects.get(username="ada")
    response = team_admin.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert log_in(locked_out, "ada").status_code == 302


def test_the_team_admins_group_exists_after_migrate_with_only_its_permissions():
    from django.contrib.auth.models import Group

    group = Group.objects.get(name=TEAM_ADMINS)
    assert sorted(group.permissions.values_list("codename", flat=True)) == [
        "add_user",
        "change_user",
        "delete_accessattempt",
        "view_accessattempt",
        "view_auditentry",
        "view_user",
    ]
