from django.contrib.auth import views as auth_views
from django.urls import path, register_converter

from dashboard.views import generate, history, media, pages, results


class ItemIdConverter:
    """Loose on purpose: hostile ids reach the views, which refuse them with a 404."""

    regex = r"[^/]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class ResultKindConverter(ItemIdConverter):
    regex = r"preview|stock"


class InputVariantConverter(ItemIdConverter):
    regex = r"file|thumbnail|download"


register_converter(ItemIdConverter, "item")
register_converter(ResultKindConverter, "result_kind")
register_converter(InputVariantConverter, "input_variant")

urlpatterns = [
    path("", generate.generate, name="home"),
    path("jobs/tray", generate.tray, name="tray"),
    path("jobs/<item:item_id>/rerun", generate.rerun, name="rerun"),
    path("results/<item:item_id>/feedback", results.feedback, name="feedback"),
    path("results/<item:item_id>/<result_kind:kind>", media.result_image, name="result_image"),
    path("inputs/<int:pk>/<input_variant:variant>", media.input_image, name="input_image"),
    path("tools/<item:tool>/types/<item:type_id>/preview", media.type_preview, name="type_preview"),
    path("healthz", pages.healthz, name="healthz"),
    path("login/", pages.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]

urlpatterns += [
    path("history/", history.gallery, name="history"),
    path("history/poll", history.poll, name="history_poll"),
    path("history/bulk", history.bulk, name="history_bulk"),
    path("history/<item:item_id>/", history.detail, name="history_item"),
    path("history/<item:item_id>/delete", history.delete, name="history_delete"),
]

handler404 = "dashboard.views.pages.not_found"
