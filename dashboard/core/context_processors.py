from django.http import HttpRequest
from django.templatetags.static import static

from dashboard import genapi


def upstream_status(request: HttpRequest) -> dict[str, str | None]:
    """The last upstream problem this process saw, for the banner on every page; and
    the icon sprite's address, looked up once per page rather than once per icon."""
    return {"upstream_problem": genapi.last_problem(), "icons_url": static("icons.svg")}
