"""Insights: which tool, style, designer, week and input image give keepers, why results
are disliked, how long results take, and how many jobs one keeper costs."""

from __future__ import annotations

import csv

from django.http import Http404, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from dashboard.core.catalogue import catalogue
from dashboard.core.http import HtmxHttpRequest
from dashboard.core.responses import render_page
from dashboard.gallery import pages
from dashboard.gallery.forms import GalleryFilterForm
from dashboard.insights import heatmap, services
from dashboard.runs.views import get_run

PAGE = "insights/insights.html"


@require_GET
def insights(request: HtmxHttpRequest) -> HttpResponse:
    scope = services.scope_of(pages.read_filters(request.GET))
    known, key = catalogue(), services.figures_key(scope)
    context = {
        "nav_active": "insights",
        "scope": scope,
        "filter_form": GalleryFilterForm.showing(scope, known),
        "figures": services.LazyFigures(scope, known, key),
        "figures_key": key,
        "query": scope.query(),
        "dates_note": pages.dates_note(request.GET),
        "without_run_url": pages.with_query(reverse("insights"), scope.query(run=None)),
        "filtered_run": pages.filtered_run(scope.run),
        "without_inputs_url": pages.with_query(reverse("insights"), scope.query(inputs=())),
    }
    return render_page(request, PAGE, context)


@require_GET
def insights_csv(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """One figure's table, exactly as the page shows it, as CSV."""
    scope = services.scope_of(pages.read_filters(request.GET))
    figure = services.figure_named(scope, catalogue(), slug)
    if figure is None:
        raise Http404("There is no such figure.")
    return csv_download(f"insights-{slug}.csv", figure.table.as_rows())


@require_GET
def run_heatmap_csv(request: HtmxHttpRequest, run_id: int) -> HttpResponse:
    """A run's heat map table (row, column, rating of each cell), as its page shows it."""
    heat = heatmap.for_run(get_run(run_id), request.user)
    return csv_download(f"run-{run_id}-ratings.csv", heat.table.as_rows())


def csv_download(filename: str, rows: list[list[str]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    csv.writer(response).writerows(rows)
    return response
