from django.contrib.auth import views as auth_views
from django.urls import path, register_converter
from django.urls.converters import StringConverter

from dashboard.core import views as pages
from dashboard.downloads import views as downloads
from dashboard.gallery import views as history
from dashboard.generate import views as generate
from dashboard.library import views as library
from dashboard.media import views as media
from dashboard.reviews import views as results
from dashboard.runs import views as runs
from dashboard.trash import views as trash


class ResultKindConverter(StringConverter):
    regex = r"preview|stock"


class InputVariantConverter(StringConverter):
    regex = r"file|thumbnail|download"


# Ids use the plain `str` converter on purpose: hostile ids reach the views, which
# refuse them with a clear 404 (genapi.validate_id) instead of a resolver's bare one.
register_converter(ResultKindConverter, "result_kind")
register_converter(InputVariantConverter, "input_variant")

urlpatterns = [
    path("", generate.generate, name="home"),
    path("jobs/tray", generate.tray, name="tray"),
    path("jobs/<str:item_id>/rerun", generate.rerun, name="rerun"),
    path("results/<str:item_id>/feedback", results.feedback, name="feedback"),
    path("results/<str:item_id>/review", results.review, name="review"),
    path("results/<str:item_id>/<result_kind:kind>", media.result_image, name="result_image"),
    path("inputs/<int:pk>/<input_variant:variant>", media.input_image, name="input_image"),
    path("tools/<str:tool>/styles/<str:style_id>/preview", media.style_preview, name="style_preview"),
    path("healthz", pages.healthz, name="healthz"),
    path("login/", pages.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]

urlpatterns += [
    path("history/", history.gallery, name="history"),
    path("history/poll", history.poll, name="history_poll"),
    path("history/bulk", history.bulk, name="history_bulk"),
    path("history/download", downloads.history_download, name="history_download"),
    path("history/<str:item_id>/", history.detail, name="history_item"),
    path("history/<str:item_id>/delete", history.delete, name="history_delete"),
    path("runs/<int:run_id>/download", downloads.run_download, name="run_download"),
    path("trash/", trash.trash_page, name="trash"),
    path("trash/restore", trash.restore, name="trash_restore"),
    path("trash/empty", trash.empty, name="trash_empty"),
    path("trash/<str:item_id>/delete", trash.delete_forever, name="trash_delete"),
]

urlpatterns += [
    path("library/", library.library_page, name="library"),
    path("library/add", library.add, name="library_add"),
    path("library/pick", library.pick, name="library_pick"),
    path("library/<int:pk>/", library.image_action, name="library_image"),
    path("runs/", runs.run_list, name="runs"),
    path("runs/new", runs.new_run, name="new_run"),
    path("runs/new/picker", runs.picker, name="run_picker"),
    path("runs/<int:run_id>/", runs.run_page, name="run"),
    path("runs/<int:run_id>/poll", runs.run_poll, name="run_poll"),
    path("runs/<int:run_id>/cancel", runs.run_cancel, name="run_cancel"),
    path("runs/<int:run_id>/retry", runs.run_retry, name="run_retry"),
]

handler404 = "dashboard.core.views.not_found"
