"""A run page's heat map of ratings: each cell coloured and marked by its result's
rating and linked to exactly that result in History, the best row and column named,
its table behind a disclosure and the same table as CSV."""

import csv
import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.models import IndexedResult, Job, RunCell, SyncState
from tests.factories import InputImageFactory, RunFactory
from tests.insights.tables import TableParser

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_redis]

# Three garments down, two models across: what each result was rated.
RATINGS = [
    ["liked", "disliked"],
    ["liked", "liked"],  # the best garment
    ["error", None],  # a failed result, and a cell not sent yet
]


@pytest.fixture
def run(designer):
    return rated_run(designer)


def rated_run(designer):
    """A run of RATINGS's shape, its results indexed and rated."""
    SyncState.objects.get_or_create(name="history")
    run = RunFactory(designer=designer, column_slot="person", column_label="Model")
    garments = [InputImageFactory(owner=designer, kind="clothes", name=f"Garment {n}") for n in (1, 2, 3)]
    models = [InputImageFactory(owner=designer, kind="person", name=f"Model {n}") for n in (1, 2)]
    now = timezone.now()
    for row, ratings in enumerate(RATINGS):
        for column, rating in enumerate(ratings):
            cell = RunCell(run=run, row=row, column=column, row_image=garments[row], column_image=models[column])
            if rating is not None:
                item_id = f"heat{row}{column}".ljust(24, "0")
                cell.job = Job.objects.create(history_item_id=item_id, designer=designer, tool=run.tool, run=run)
                cell.state = RunCell.State.SENT
                IndexedResult.objects.create(
                    history_item_id=item_id,
                    tool=run.tool,
                    status="error" if rating == "error" else "complete",
                    rating="unrated" if rating == "error" else rating,
                    created_at=now,
                    sort_at=now,
                    seen_at=now,
                    run=run,
                    made_by=designer,
                )
                cell.job.inputs.create(slot="clothes", label="Garment", image=garments[row])
                cell.job.inputs.create(slot="person", label="Model", image=models[column], position=1)
            cell.save()
    return run


def test_the_run_page_names_the_best_row_and_column(client, run):
    html = client.get(reverse("run", args=[run.pk])).content.decode()
    text = re.sub(r"<[^>]+>", "", html)
    assert "Best garment: Garment 2 (2 of 2 liked) · best model: Model 1 (2 of 3 liked)." in text
    assert "Garment 1 on Model 2: Disliked" in text  # each cell's text alternative
    assert "Garment 3 on Model 2: No result yet" in text


def test_every_cell_and_line_opens_history_with_exactly_its_results(client, run):
    response = client.get(reverse("run", args=[run.pk]))
    heat = response.context["heatmap"]
    expected_totals = {}
    for line, cells in heat.rows:
        expected_totals[line.href] = line.results
        expected_totals |= {cell.href: 1 for cell in cells if cell.href}
    expected_totals |= {column.href: column.results for column in heat.columns}
    assert len(expected_totals) == 5 + 5  # five results; three rows and two columns
    for href, total in expected_totals.items():
        assert client.get(href).context["gallery"].total_count == total, href


def test_the_csv_is_the_table_behind_the_disclosure(client, run):
    parser = TableParser()
    parser.feed(client.get(reverse("run", args=[run.pk])).content.decode())
    response = client.get(reverse("run_heatmap_csv", args=[run.pk]))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == parser.tables["run-ratings-table"]
    assert rows[1:] == [
        ["Garment 1", "Model 1", "Liked"],
        ["Garment 1", "Model 2", "Disliked"],
        ["Garment 2", "Model 1", "Liked"],
        ["Garment 2", "Model 2", "Liked"],
        ["Garment 3", "Model 1", "Failed"],
        ["Garment 3", "Model 2", "No result yet"],
    ]


def test_insights_and_history_narrowed_to_a_run_name_it_as_its_page_does(client, run):
    for page in ("insights", "history"):
        assert f">Run #{run.pk}</a>" in client.get(reverse(page), {"run": run.pk}).content.decode()
    run.name = "Spring dresses on the new models"
    run.save(update_fields=["name"])
    for page in ("insights", "history"):
        body = client.get(reverse(page), {"run": run.pk}).content.decode()
        assert f'<a href="/runs/{run.pk}/">Spring dresses on the new models</a>' in body, page
