"""What several processes log and count: bulk calls keep their request's id; with
PROMETHEUS_MULTIPROC_DIR a scrape adds up every process's upstream calls."""

import logging
import os
import subprocess
import sys

import pytest
from django.urls import reverse

from dashboard.core import concurrency
from dashboard.observability import logs

pytestmark = pytest.mark.django_db

RECORD_ONE_CALL = """
import django
django.setup()
from dashboard.observability import metrics
metrics.upstream_call("DELETE", "user/generation-history/abc123", 204, 0.2)
"""


def test_bulk_calls_in_the_pools_threads_keep_the_requests_id():
    with logs.bound(request_id="bulk-request-0001"):
        seen = concurrency.each(lambda key: logs.current().get("request_id"), ["a", "b", "c", "d", "e"])
    assert set(seen.values()) == {"bulk-request-0001"}


def test_the_text_format_ends_with_the_bound_fields_and_never_shows_the_key(settings):
    record = logging.LogRecord(
        "dashboard.x", logging.INFO, __file__, 1, "sent with %s", (settings.GENAPI_API_KEY,), None
    )
    with logs.bound(task_id="task-1", cell=7):
        logs.AddContext().filter(record)
    line = logs.Text().format(record)
    assert line.endswith("sent with [redacted] task_id=task-1 cell=7")


def test_with_a_multiprocess_directory_a_scrape_adds_up_every_processs_calls(client, settings, tmp_path, monkeypatch):
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "tests.settings"}
    for _ in range(2):  # two worker processes, each making one call
        subprocess.run([sys.executable, "-c", RECORD_ONE_CALL], env=environment, check=True, timeout=60)
    settings.METRICS_TOKEN = "token-for-this-test"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    response = client.get(reverse("metrics"), headers={"Authorization": "Bearer token-for-this-test"})

    assert 'dashboard_upstream_calls_total{endpoint="delete",outcome="204"} 2.0' in response.content.decode()
    assert "dashboard_run_cells_queued 0.0" in response.content.decode()
