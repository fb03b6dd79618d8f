import atexit

from django.apps import AppConfig


def close_database_pools() -> None:
    """Close psycopg's connection pools (DATABASE_POOL_MAX) when the process exits.

    Django never closes them; left to the interpreter's shutdown, each of a pool's
    threads holds up the exit of a worker for five seconds.
    """
    from django.db import connections

    for alias in connections:
        connection = connections[alias]
        if alias in getattr(type(connection), "_connection_pools", {}):
            connection.close_pool()


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Nextry dashboard"

    def ready(self) -> None:
        from dashboard import checks  # noqa: F401  (registers the deployment checks)

        atexit.register(close_database_pools)
