"""/metrics for Prometheus: absent without METRICS_TOKEN, refused without the token, and
with it the upstream calls, their latency, the run queue and the sync's lag."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard import genapi
from dashboard.models import Run, RunCell, SyncState
from tests.factories import RunCellFactory
from tests.support.seed import SEED_TOOLS

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-0123456789"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client, token=TOKEN):
    return client.get(reverse("metrics"), headers={"Authorization": f"Bearer {token}"} if token else {})


def test_without_the_setting_there_is_no_metrics_page(client, settings):
    settings.METRICS_TOKEN = ""
    assert scrape(client).status_code == 404


@pytest.mark.parametrize("token", [None, "wrong-token", TOKEN + "x", TOKEN[:-1]])
def test_a_missing_or_wrong_token_is_refused(client, metrics_on, token):
    response = scrape(client, token)
    assert response.status_code == 401
    assert "dashboard_" not in response.content.decode()


def test_a_logged_in_designer_without_the_token_is_refused(client, metrics_on, designer):
    assert scrape(client, None).status_code == 401


def test_with_the_token_it_shows_upstream_calls_queue_and_sync_lag(client, metrics_on, rsps):
    rsps.get("http://genapi.test/generation/tools", json=SEED_TOOLS)
    rsps.get("http://genapi.test/user/generation-history/abc123", status=404)
    genapi.client().tools()
    with pytest.raises(genapi.NotFound):
        genapi.client().history_item("abc123")
    cell = RunCellFactory(state=RunCell.State.QUEUED)
    RunCellFactory(run=cell.run, state=RunCell.State.SENT)
    Run.objects.filter(pk=cell.run.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    SyncState.objects.create(name="history", last_contact_at=timezone.now() - timedelta(seconds=42))

    response = scrape(client)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    series = dict(
        line.rsplit(" ", 1) for line in response.content.decode().splitlines() if line and not line.startswith("#")
    )
    assert float(series['dashboard_upstream_calls_total{endpoint="tools",outcome="200"}']) >= 1
    assert float(series['dashboard_upstream_calls_total{endpoint="history_item",outcome="404"}']) >= 1
    assert float(series['dashboard_upstream_call_seconds_count{endpoint="tools"}']) >= 1
    assert 'dashboard_upstream_call_seconds_bucket{endpoint="tools",le="0.5"}' in series
    assert float(series["dashboard_run_cells_queued"]) == 1
    assert 300 <= float(series["dashboard_run_cells_oldest_queued_seconds"]) < 400
    assert 42 <= float(series["dashboard_index_sync_lag_seconds"]) < 100
    assert not any("abc123" in name for name in series)  # ids never become labels
