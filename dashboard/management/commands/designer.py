"""Designer accounts from the command line: the team has no sign-up page, and an
operator should not need `manage.py shell` to let a new designer in or a leaver out.

    manage.py designer add alice --email alice@studio.example   # asks for a password twice
    manage.py designer add bob --password-stdin < secret.txt    # a script's way
    manage.py designer password alice                            # a new password
    manage.py designer remove alice                              # no more logins; her work stays
    manage.py designer role alice team-admin                     # or `designer`: see below
    manage.py designer list

A team admin manages the team's accounts in Django's admin (/admin/); `add --team-admin`
or `role` makes one (dashboard/accounts/roles.py says what they may do).

Passwords pass the same validators as everywhere (AUTH_PASSWORD_VALIDATORS). Removing
deactivates the account rather than deleting it: results, ratings, notes and the audit
trail keep naming her, and `add` brings the same account back.
"""

from __future__ import annotations

import getpass
import sys

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from dashboard.accounts.roles import is_team_admin, set_team_admin

ROLES = ("designer", "team-admin")


class Command(BaseCommand):
    help = "Add, re-password, remove (deactivate) or list designer accounts."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="create a designer (or bring a removed one back)")
        add.add_argument("username")
        add.add_argument("--email", default="")
        add.add_argument("--name", default="", help="the first name shown in the dashboard")
        add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        add.add_argument("--team-admin", action="store_true", help="who may manage the team's accounts in /admin/")
        password = actions.add_parser("password", help="set a designer's password")
        password.add_argument("username")
        password.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        remove = actions.add_parser("remove", help="stop a designer logging in; their work stays")
        remove.add_argument("username")
        role = actions.add_parser("role", help="make a designer a team admin, or a designer only again")
        role.add_argument("username")
        role.add_argument("role", choices=ROLES)
        actions.add_parser("list", help="every designer, and whether they can log in")

    def handle(self, *args, action: str, **options):
        getattr(self, f"do_{action}")(**options)

    def do_add(self, *, username: str, email: str, name: str, password_stdin: bool, team_admin: bool, **_):
        User = get_user_model()
        if email:
            try:
                validate_email(email)
            except ValidationError as exc:
                raise CommandError(f"{email!r} is not an email address.") from exc
        existing = User.objects.filter(username__iexact=username).first()
        if existing is not None and existing.is_active:
            raise CommandError(f"{existing.username} already has an account; `designer password` changes its password.")
        user = existing or User(username=username)
        user.email = email or user.email
        user.first_name = name or user.first_name
        user.set_password(self.new_password(user, password_stdin))
        user.is_active = True
        user.save()
        if team_admin:
            set_team_admin(user, True)
        self.stdout.write(f"{user.username} can log in now." if existing is None else f"{user.username} is back.")

    def do_password(self, *, username: str, password_stdin: bool, **_):
        user = self.designer(username)
        user.set_password(self.new_password(user, password_stdin))
        user.save(update_fields=["password"])
        self.stdout.write(f"{user.username}'s password is changed; their other sessions are signed out.")

    def do_remove(self, *, username: str, **_):
        user = self.designer(username)
        user.is_active = False
        user.set_unusable_password()  # a new password hash: Django ends their open sessions at their next click
        user.save(update_fields=["is_active", "password"])
        self.stdout.write(f"{user.username} can no longer log in; their results, ratings and notes stay.")

    def do_role(self, *, username: str, role: str, **_):
        user = self.designer(username)
        set_team_admin(user, role == "team-admin")
        self.stdout.write(
            f"{user.username} is a team admin: they manage the team's accounts at /admin/."
            if role == "team-admin"
            else f"{user.username} is a designer (not a team admin)."
        )

    def do_list(self, **_):
        for user in get_user_model().objects.order_by("username"):
            state = "can log in" if user.is_active and user.has_usable_password() else "removed"
            last = f", last login {user.last_login:%Y-%m-%d}" if user.last_login else ""
            role = "operator" if user.is_superuser else "team admin" if is_team_admin(user) else "designer"
            self.stdout.write(f"{user.username}\t{role}\t{state}{last}")

    def designer(self, username: str):
        user = get_user_model().objects.filter(username__iexact=username).first()
        if user is None:
            raise CommandError(f"There is no designer {username!r}; `designer list` shows them.")
        return user

    def new_password(self, user, from_stdin: bool) -> str:
        if from_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass(f"Password for {user.username}: ")
            if getpass.getpass("The same again: ") != password:
                raise CommandError("The two passwords differ; nothing was changed.")
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages) + " Nothing was changed.") from exc
        return password
