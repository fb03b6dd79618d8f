"""The gallery's designer and input-image filters (which the insights' bars link to):
exact totals, in the URL, shown on the form and removable."""

import pytest
from django.urls import reverse

from dashboard.models import IndexedResult
from tests.insights.seeding import seed

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_redis]


@pytest.fixture
def seeded(designer, bob):
    return [row for row in seed(designer, bob) if not row["in_trash"]]


def total(client, query: str) -> int:
    response = client.get(f"{reverse('history')}?{query}")
    assert response.status_code == 200
    return response.context["gallery"].total_count


def test_designer_filter_shows_exactly_that_designers_results(client, seeded, bob):
    assert total(client, "designer=bob") == sum(row["made_by"] == bob for row in seeded) > 0
    assert total(client, "designer=nobody") == 0
    html = client.get(f"{reverse('history')}?designer=bob").content.decode()
    assert '<option value="bob" selected>' in html


def test_input_filter_shows_the_results_made_from_every_image_named(client, seeded):
    garment, model = seeded[1]["inputs"]
    assert total(client, f"input={garment}") == sum(garment in row.get("inputs", []) for row in seeded) > 0
    both = sum({garment, model} <= set(row.get("inputs", [])) for row in seeded)
    assert 0 < total(client, f"input={garment}&input={model}") == both
    html = client.get(f"{reverse('history')}?input={garment}").content.decode()
    assert f"Made from input #{garment}" in html
    assert "Stop filtering by input" in html


def test_bad_input_values_show_every_result(client, seeded):
    everything = IndexedResult.objects.filter(in_trash=False).count()
    assert (
        total(client, "input=abc")
        == total(client, "input=0")
        == total(client, "input=1&input=2&input=3&input=4&input=5")
        == everything
    )
