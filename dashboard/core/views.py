"""The health check for load balancers, the error pages and the login page."""

import sys
import uuid

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from dashboard import genapi
from dashboard.core import storage
from dashboard.core.http import Gone, is_local_path
from dashboard.index import status as index_status
from dashboard.runs import workers


def cache_state() -> str:
    """Whether the shared cache stores and returns a value: the Redis cache answers
    "nothing cached" rather than failing while Redis is down, so this writes and reads."""
    key = f"healthz:cache:{uuid.uuid4().hex}"
    cache.set(key, "ok", 5)
    return "ok" if cache.get(key) == "ok" else "unavailable"


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Database, cache, image store and upstream reachability for a load balancer; nothing more revealing."""
    checks: dict[str, str | int | None] = {
        "database": "ok",
        "cache": cache_state(),
        "storage": storage.state(),
        "upstream": genapi.health(),
    }
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        # Answered at once: each further query would wait DATABASE_CONNECT_TIMEOUT again.
        checks.update(database="unavailable", worker="unknown", sync="unknown")
        return JsonResponse({"status": "degraded", **checks}, status=503)
    healthy = all(value == "ok" for value in checks.values())
    # Told, not judged: a stopped background worker or sync is no reason to take this
    # web instance out of the balancer, but an operator watching /healthz should see it.
    checks["worker"] = "ok" if workers.any_alive() else "stopped"
    index = index_status.current()
    # How old the index's news is: the sync process is behind, stopped, or cannot reach the API.
    checks["sync"] = "behind" if index.stale else ("catching up" if not index.first_sync_done else "ok")
    lag = index.lag_seconds
    checks["sync_lag_seconds"] = round(lag) if lag is not None else None
    return JsonResponse({"status": "ok" if healthy else "degraded", **checks}, status=200 if healthy else 503)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 404 page; it repeats only the dashboard's own sentences, never a resolver's."""
    message = str(exception) if isinstance(exception, Gone) else ""
    return render(request, "404.html", {"message": message}, status=404)


# What a page answers while the database is away; a load balancer or a browser may ask again then.
DATABASE_AWAY_RETRY_SECONDS = 5


def unavailable(template: str, retry_after: int) -> HttpResponse:
    """A 503 page drawn without a request context (no query: the database may be away too)."""
    response = HttpResponse(loader.render_to_string(template), status=503)
    response["Retry-After"] = str(retry_after)
    return response


def storage_away() -> HttpResponse:
    """The "image store is not answering" page: for what no view answers more precisely."""
    return unavailable("503_storage.html", storage.RETRY_AFTER_SECONDS)


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page, or a 503 page when the cause is a part that is away: the database (a
    PostgreSQL restart, a network cut) or the image store (S3 out of reach)."""
    if isinstance(sys.exception(), DatabaseError):
        return unavailable("503.html", DATABASE_AWAY_RETRY_SECONDS)
    if isinstance(sys.exception(), storage.StorageUnavailable):
        return storage_away()
    return HttpResponse(loader.render_to_string("500.html"), status=500)


class LoginView(auth_views.LoginView):
    """Django's login page; a logged-in designer is sent on (home, or a safe `next`)."""

    redirect_authenticated_user = True

    def get_redirect_url(self, request: HttpRequest | None = None) -> str:
        # Django raises ValueError (a 500) when a logged-in user's `next` is the login
        # page itself: a crafted link, `/login/?next=/login/`. Such a `next` is dropped.
        url = super().get_redirect_url(request)
        return url if url != self.request.path and is_local_path(self.request, url) else ""


def locked_out(
    request: HttpRequest, response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """The login page again, saying why it refuses (django-axes calls this when locked)."""
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username[:150]})
    message = (
        "Too many failed logins for this account or from this address. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}, or ask an administrator to unlock it."
    )
    next_url = request.POST.get("next", "")
    context = {"form": form, "locked_out": message, "next": next_url if is_local_path(request, next_url) else ""}
    return render(request, "registration/login.html", context, status=429)
