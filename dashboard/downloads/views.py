"""Results as one ZIP, streamed: a run's (`?liked=1`: only the liked ones) or a gallery
selection. Any teammate may download: results are the team's."""

from __future__ import annotations

from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from dashboard import genapi
from dashboard.core.http import HtmxHttpRequest, is_local_path
from dashboard.core.responses import Notice, see_other, upstream_message
from dashboard.downloads import services as downloads
from dashboard.gallery import pages
from dashboard.models import Run


def zip_response(download: downloads.Download) -> StreamingHttpResponse:
    # Django calls download.close() when the answer ends, however it ends.
    response = StreamingHttpResponse(download, content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(True, download.plan.archive_name)
    response["Cache-Control"] = "private, no-store"
    # Proxies (nginx) would otherwise hold the whole archive before passing it on.
    response["X-Accel-Buffering"] = "no"
    return response


def problem_page(request: HtmxHttpRequest, message: str, status: int) -> HttpResponse:
    back = request.GET.get("next", "")
    context = {"message": message, "back_url": back if is_local_path(request, back) else ""}
    return render(request, "downloads/problem.html", context, status=status)


@require_GET
def run_download(request: HtmxHttpRequest, run_id: int) -> HttpResponseBase:
    """GET /runs/<id>/download[?liked=1][&next=<local path to return to on a problem>]."""
    run = get_object_or_404(Run, pk=run_id)
    try:
        plan = downloads.plan_run(run, liked_only=request.GET.get("liked") == "1")
        download = downloads.prepare(plan)
    except downloads.NothingToDownload as exc:
        return problem_page(request, exc.message, status=409)
    except genapi.GenApiError as exc:
        return problem_page(request, f"The download could not start: {upstream_message(exc)}", status=503)
    return zip_response(download)


@require_POST
def history_download(request: HtmxHttpRequest) -> HttpResponseBase:
    """POST /history/download with `ids` repeated (the gallery's bulk form); a problem
    goes back to the gallery, with its filters, as a message."""
    filters = pages.read_filters(request.GET)
    try:
        ids = downloads.check_selection(request.POST.getlist("ids"))
        download = downloads.prepare(downloads.plan_selection(ids))
    except (downloads.SelectionRefused, downloads.NothingToDownload) as exc:
        problem = exc.message
    except genapi.GenApiError as exc:
        problem = f"The download could not start: {upstream_message(exc)}"
    else:
        return zip_response(download)
    Notice(problem, "error").tell(request)
    return see_other(pages.gallery_url(filters))
