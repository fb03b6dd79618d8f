from django.http import HttpRequest

from dashboard import genapi


def upstream_status(request: HttpRequest) -> dict[str, str | None]:
    """The last upstream problem this process saw, for the banner on every page."""
    return {"upstream_problem": genapi.client().last_problem}
