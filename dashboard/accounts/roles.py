"""The two roles: every account is a designer; a team admin is also in the "Team admins"
group, with just the permissions to let designers in and out, read the audit trail and
lift a login lockout, and `is_staff` so the admin lets them in. Nothing else grants
`is_staff`: it follows the group (or superuser) here, in one place.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, Group, Permission
from django.db.models import Q

TEAM_ADMINS = "Team admins"

# (app label, codename): what a team admin may do in the admin, and no more. No
# delete_user: a leaver is deactivated, so their results, ratings and audit entries keep
# their name (as `manage.py designer remove` does).
TEAM_ADMIN_PERMISSIONS = [
    ("auth", "view_user"),
    ("auth", "add_user"),
    ("auth", "change_user"),
    ("dashboard", "view_auditentry"),
    ("axes", "view_accessattempt"),
    ("axes", "delete_accessattempt"),
]


def team_admins_group() -> Group:
    """The group, created or brought back to exactly its permissions."""
    group, _ = Group.objects.get_or_create(name=TEAM_ADMINS)
    wanted = Q()
    for app_label, codename in TEAM_ADMIN_PERMISSIONS:
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    group.permissions.set(Permission.objects.filter(wanted))
    return group


def is_team_admin(user: AbstractUser) -> bool:
    return user.groups.filter(name=TEAM_ADMINS).exists()


def set_team_admin(user: AbstractUser, team_admin: bool) -> None:
    group = team_admins_group()
    if team_admin:
        user.groups.add(group)
    else:
        user.groups.remove(group)
    staff = team_admin or user.is_superuser
    if user.is_staff != staff:
        user.is_staff = staff
        user.save(update_fields=["is_staff"])


def ensure_team_admins_group(**_) -> None:
    """After `migrate` (post_migrate), once every permission exists."""
    team_admins_group()
