"""A page that fails holding a photo and the key: what Sentry must not be sent."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from dashboard.urls import urlpatterns as dashboard_urls


@csrf_exempt
@login_not_required
def fails_with_a_photo(request):
    from django.conf import settings

    photo = request.FILES["photo"].read()
    api_key = settings.GENAPI_API_KEY
    raise RuntimeError(f"the upstream refused Bearer {api_key} for a photo of {len(photo)} bytes (key {api_key})")


urlpatterns = [path("fails", fails_with_a_photo), *dashboard_urls]
