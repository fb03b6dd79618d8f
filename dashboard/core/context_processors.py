from django.conf import settings
from django.http import HttpRequest
from django.templatetags.static import static

from dashboard import genapi


def upstream_status(request: HttpRequest) -> dict[str, str | bool | None]:
    """The last upstream problem this process saw, for the banner on every page; the
    icon sprite's address, looked up once per page rather than once per icon; and
    whether pages may open the live event stream (a deployment with Redis: without it
    there is nothing to listen to, and pages only poll)."""
    return {
        "upstream_problem": genapi.last_problem(),
        "icons_url": static("icons.svg"),
        "live_push": bool(settings.REDIS_URL),
    }
