from django.contrib.admin.apps import AdminConfig


class TeamAdminConfig(AdminConfig):
    """Django's admin on the project's own site (its login is the dashboard's)."""

    default_site = "dashboard.accounts.site.TeamAdminSite"
