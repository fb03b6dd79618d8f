from django.apps import AppConfig
from django.core.signals import request_started


def forget_upstream_problem(**kwargs) -> None:
    """Each request's banner speaks of that request's upstream calls only."""
    from dashboard import genapi

    genapi.client().last_problem = None


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Nextry dashboard"

    def ready(self) -> None:
        request_started.connect(forget_upstream_problem, dispatch_uid="dashboard.forget_upstream_problem")
