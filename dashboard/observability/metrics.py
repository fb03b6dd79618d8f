"""Prometheus metrics, served at /metrics (views.py) with prometheus-client.

Upstream calls are counted where they are made (dashboard/genapi/transport.py), in
whichever process makes them: web, worker or sync. The queue and the sync's lag are read
from the database when Prometheus asks, so every instance reports the same numbers.

Processes: without PROMETHEUS_MULTIPROC_DIR each process counts on its own and a scrape
sees the counts of the web process that answered it. With it (a directory shared by the
processes of one host, emptied before they start), prometheus-client's multiprocess mode
adds up every process's counts there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

UPSTREAM_CALLS = Counter(
    "dashboard_upstream_calls",
    "Calls to the generation API, by endpoint and outcome (HTTP status, or timeout, deadline, unreachable...).",
    ["endpoint", "outcome"],
)
UPSTREAM_SECONDS = Histogram(
    "dashboard_upstream_call_seconds",
    "How long calls to the generation API took, answer read, by endpoint.",
    ["endpoint"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)

# (method, path) of each upstream call to a short name: ids never become label values.
_ENDPOINTS = (
    ("GET", re.compile(r"generation/tools"), "tools"),
    ("GET", re.compile(r"generation/generationTypes"), "styles"),
    ("POST", re.compile(r"generation/generate_image_v2/?"), "create_job"),
    ("GET", re.compile(r"user/generation-history/?"), "history"),
    ("GET", re.compile(r"user/generation-history/[^/]+"), "history_item"),
    ("PATCH", re.compile(r"user/generation-history/feedback/[^/]+"), "feedback"),
    ("DELETE", re.compile(r"user/generation-history/[^/]+"), "delete"),
    ("GET", re.compile(r"openapi\.json"), "openapi"),
)


def endpoint(method: str, path: str) -> str:
    path = path.lstrip("/")
    for known_method, pattern, name in _ENDPOINTS:
        if method == known_method and pattern.fullmatch(path):
            return name
    return "image" if method == "GET" else "other"


def upstream_call(method: str, path: str, outcome: int | str, seconds: float) -> None:
    name = endpoint(method, path)
    UPSTREAM_CALLS.labels(name, str(outcome)).inc()
    UPSTREAM_SECONDS.labels(name).observe(seconds)


class FromTheDatabase(Collector):
    """What the database says when Prometheus asks: run cells waiting to be sent and the
    oldest one's age, and how old the index's news is."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from dashboard.index import status
        from dashboard.models import RunCell

        waiting = RunCell.objects.filter(state=RunCell.State.QUEUED).aggregate(
            count=Count("pk"), oldest=Min("run__created_at")
        )
        yield GaugeMetricFamily(
            "dashboard_run_cells_queued", "Run cells waiting to be sent (the background queue).", value=waiting["count"]
        )
        age = (timezone.now() - waiting["oldest"]).total_seconds() if waiting["oldest"] else 0.0
        yield GaugeMetricFamily(
            "dashboard_run_cells_oldest_queued_seconds",
            "Age of the oldest waiting run cell, from its run's start (0 when none waits).",
            value=age,
        )
        lag = status.current().lag_seconds
        if lag is not None:  # never synced: no sample, rather than a made-up number
            yield GaugeMetricFamily(
                "dashboard_index_sync_lag_seconds", "Seconds since the sync last heard from the upstream.", value=lag
            )


class _ThisProcess(Collector):
    def collect(self):
        yield from REGISTRY.collect()


def exposition() -> bytes:
    """The text Prometheus reads: this process's (or every process's) counts, and the database's."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(FromTheDatabase())
    return generate_latest(registry)
