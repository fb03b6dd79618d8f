import atexit

from django.apps import AppConfig
from django.conf import settings
from django.core.signals import request_started
from django.db.models.signals import post_migrate


def forget_upstream_problem(**kwargs) -> None:
    """Each request's banner speaks of that request's upstream calls only."""
    from dashboard import genapi

    genapi.client().last_problem = None


def close_database_pools() -> None:
    """Close psycopg's connection pools (DATABASE_POOL_MAX) when the process exits.

    Django never closes them; left to the interpreter's shutdown, each of a pool's
    threads holds up the exit of a worker for five seconds.
    """
    from django.db import connections

    for alias in connections:
        connection = connections[alias]
        if alias in getattr(type(connection), "_connection_pools", {}):
            connection.close_pool()  # type: ignore[attr-defined]  # PostgreSQL's backend only


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Nextry dashboard"

    def ready(self) -> None:
        request_started.connect(forget_upstream_problem, dispatch_uid="dashboard.forget_upstream_problem")
        from dashboard.core import checks  # noqa: F401  (registers the deployment checks)
        from dashboard.index import services as index
        from dashboard.live import events as live

        index.changed.connect(live.index_changed, dispatch_uid="dashboard.live.index_changed")

        from dashboard.accounts.roles import ensure_team_admins_group

        post_migrate.connect(ensure_team_admins_group, sender=self, dispatch_uid="dashboard.team_admins_group")

        atexit.register(close_database_pools)
        if settings.SENTRY_DSN:
            from dashboard.observability import errors

            errors.start(settings.SENTRY_DSN, environment=settings.SENTRY_ENVIRONMENT)
