from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path, register_converter
from django.urls.converters import StringConverter

from dashboard.core import views as pages
from dashboard.core.slots import SLOT_NAME
from dashboard.downloads import views as downloads
from dashboard.gallery import views as history
from dashboard.generate import views as generate
from dashboard.insights import views as insights
from dashboard.library import views as library
from dashboard.live import views as live
from dashboard.media import views as media
from dashboard.observability import views as observability
from dashboard.reviews import views as results
from dashboard.runs import views as runs
from dashboard.trash import views as trash


class ResultKindConverter(StringConverter):
    regex = r"preview|stock"


class InputVariantConverter(StringConverter):
    regex = r"file|thumbnail|download"


class SlotNameConverter(StringConverter):
    regex = SLOT_NAME.pattern.removeprefix("^").removesuffix("$")


# Ids use the plain `str` converter on purpose: hostile ids reach the views, which
# refuse them with a clear 404 (genapi.validate_id) instead of a resolver's bare one.
register_converter(ResultKindConverter, "result_kind")
register_converter(InputVariantConverter, "input_variant")
register_converter(SlotNameConverter, "slot_name")

urlpatterns = [
    path("", generate.generate, name="home"),
    path("photos/<slot_name:slot>", generate.add_photo, name="add_photo"),
    path("jobs/tray", generate.tray, name="tray"),
    path("jobs/<str:item_id>/rerun", generate.rerun, name="rerun"),
    path("results/<str:item_id>/feedback", results.feedback, name="feedback"),
    path("results/<str:item_id>/review", results.review, name="review"),
    path("results/<str:item_id>/<result_kind:kind>", media.result_image, name="result_image"),
    path("inputs/<int:pk>/<input_variant:variant>", media.input_image, name="input_image"),
    path("tools/<str:tool>/styles/<str:style_id>/preview", media.style_preview, name="style_preview"),
    path("healthz", pages.healthz, name="healthz"),
    path("metrics", observability.metrics, name="metrics"),
    path("events/", live.events, name="events"),
    path("login/", pages.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]

urlpatterns += [
    path("history/", history.gallery, name="history"),
    path("history/poll", history.poll, name="history_poll"),
    path("history/news", history.news, name="history_news"),
    path("history/bulk", history.bulk, name="history_bulk"),
    path("history/download", downloads.history_download, name="history_download"),
    path("history/compare/", history.compare_page, name="history_compare"),
    path("history/<str:item_id>/", history.detail, name="history_item"),
    path("history/<str:item_id>/delete", history.delete, name="history_delete"),
    path("history/<str:item_id>/restore", history.restore, name="history_restore"),
    path("history/<str:item_id>/rerun", history.rerun, name="history_rerun"),
    path("runs/<int:run_id>/download", downloads.run_download, name="run_download"),
    path("insights/", insights.insights, name="insights"),
    path("insights/<slug:slug>.csv", insights.insights_csv, name="insights_csv"),
    path("runs/<int:run_id>/ratings.csv", insights.run_heatmap_csv, name="run_heatmap_csv"),
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
    path("runs/<int:run_id>/name", runs.run_rename, name="run_rename"),
]

handler404 = "dashboard.core.views.not_found"
handler500 = "dashboard.core.views.server_error"
