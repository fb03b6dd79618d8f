"""The health check for load balancers."""

import uuid

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from dashboard import genapi
from dashboard.core.http import Gone, is_local_path
from dashboard.runs import services as runs


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
    """Database, cache and upstream reachability for a load balancer; nothing more revealing."""
    checks = {"database": "ok", "cache": cache_state(), "upstream": genapi.health()}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        checks["database"] = "unavailable"
    healthy = all(value == "ok" for value in checks.values())
    # Told, not judged: a stopped background worker is no reason to take this web
    # instance out of the balancer, but an operator watching /healthz should see it.
    try:
        checks["worker"] = "behind" if runs.overdue_tasks() else "ok"
    except DatabaseError:
        checks["worker"] = "unknown"
    return JsonResponse({"status": "ok" if healthy else "degraded", **checks}, status=200 if healthy else 503)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 404 page; it repeats only the dashboard's own sentences, never a resolver's."""
    message = str(exception) if isinstance(exception, Gone) else ""
    return render(request, "404.html", {"message": message}, status=404)


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
