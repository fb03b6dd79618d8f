"""The admin's site, apart from the ModelAdmins: django.contrib.auth.admin registers on the
default site as it is imported, so the site itself must not import it."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache


class TeamAdminSite(admin.AdminSite):
    site_header = "Nextry dashboard: the team"
    site_title = "Nextry team"
    index_title = "Designers, roles and the audit trail"

    @method_decorator(never_cache)
    @login_not_required
    def login(self, request: HttpRequest, extra_context=None):
        # One login page for the whole site: the dashboard's own. (A signed-in designer who
        # is not staff gets the admin's "not authorised" page from the default.)
        if not request.user.is_authenticated:
            return redirect_to_login(request.GET.get("next") or reverse("admin:index"))
        return super().login(request, extra_context)
