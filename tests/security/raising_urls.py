"""The project's URLconf plus views that fail on purpose, with the API key in the exception.

Error pages must show a fixed sentence, never the text of what went wrong: an exception
raised while talking to the API could carry its key.
"""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import Http404
from django.urls import path

from dashboard.urls import handler404  # noqa: F401  (the project's own 404 page)
from dashboard.urls import urlpatterns as project_urlpatterns


def _secret() -> str:
    return f"Authorization: Bearer {settings.GENAPI_API_KEY}"


@login_not_required
def raise_400(request):
    raise BadRequest(f"bad request while calling the API with {_secret()}")


@login_not_required
def raise_403(request):
    raise PermissionDenied(f"the API refused {_secret()}")


@login_not_required
def raise_404(request):
    raise Http404(f"no such item upstream ({_secret()})")


@login_not_required
def raise_500(request):
    raise RuntimeError(f"the API client crashed with {_secret()}")


urlpatterns = [
    *project_urlpatterns,
    path("_raise/400", raise_400),
    path("_raise/403", raise_403),
    path("_raise/404", raise_404),
    path("_raise/500", raise_500),
]
