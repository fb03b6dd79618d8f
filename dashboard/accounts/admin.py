"""Django's admin, for team admins and operators: designers and their roles, the audit
trail, and login lockouts. Designers themselves never see it (they are not staff)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group, User

from dashboard.accounts.roles import TEAM_ADMINS, is_team_admin, set_team_admin
from dashboard.models import AuditEntry


class DesignerChangeForm(UserChangeForm):
    team_admin = forms.BooleanField(
        required=False,
        label="Team admin",
        help_text="Can let designers in and out here, read the audit trail and lift a login lockout.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["team_admin"].initial = is_team_admin(self.instance)


class DesignerAdmin(UserAdmin):
    form = DesignerChangeForm
    list_display = ("username", "first_name", "email", "is_active", "role", "last_login")
    list_filter = ("is_active", "groups")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Designer", {"fields": ("first_name", "last_name", "email")}),
        ("Access", {"fields": ("is_active", "team_admin")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    operator_fieldsets = (("Operator", {"fields": ("is_superuser",)}),)
    readonly_fields = ("last_login", "date_joined")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return super().get_fieldsets(request, obj)
        # Only an operator makes an operator; permissions are given by role, never one by one.
        return self.fieldsets + (self.operator_fieldsets if request.user.is_superuser else ())

    def has_change_permission(self, request, obj=None):
        # A team admin cannot change an operator's account (nor so take it over).
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Leavers are deactivated: their results, ratings and audit entries keep their name.
        return False

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if "team_admin" in form.cleaned_data:
            set_team_admin(form.instance, form.cleaned_data["team_admin"])

    @admin.display(description="Role")
    def role(self, user: User) -> str:
        if user.is_superuser:
            return "Operator"
        if any(group.name == TEAM_ADMINS for group in user.groups.all()):
            return "Team admin"
        return "Designer"


class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_name", "action", "history_item_id", "run", "bulk", "succeeded")
    list_filter = ("action", "succeeded", "created_at")
    search_fields = ("actor_name", "history_item_id", "source_item_id")
    list_select_related = ("run",)
    date_hierarchy = "created_at"

    # The trail is written by the actions themselves, never by hand.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def register(site: admin.AdminSite) -> None:
    site.unregister(User)
    site.register(User, DesignerAdmin)
    site.unregister(Group)  # roles are set on each designer; the group is kept by roles.py
    site.register(AuditEntry, AuditEntryAdmin)
