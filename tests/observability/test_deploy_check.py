"""`manage.py check --deploy` says when /metrics would show one worker's counts only."""

import pytest
from django.core import checks


def deploy_warnings() -> set[str]:
    return {message.id for message in checks.run_checks(tags=["dashboard"], include_deployment_checks=True)}


@pytest.fixture
def several_workers_with_metrics(settings, monkeypatch):
    settings.WEB_CONCURRENCY = 4
    settings.METRICS_TOKEN = "scrape-token"
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)


def test_several_workers_counting_apart_are_warned_about(several_workers_with_metrics):
    assert "dashboard.W004" in deploy_warnings()


def test_a_shared_multiprocess_directory_is_not(several_workers_with_metrics, monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert "dashboard.W004" not in deploy_warnings()


def test_one_worker_is_not(several_workers_with_metrics, settings):
    settings.WEB_CONCURRENCY = 1
    assert "dashboard.W004" not in deploy_warnings()
