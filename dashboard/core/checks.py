"""Deployment checks (`manage.py check --deploy`) for running more than one worker.

The local defaults (SQLite, each process's own memory cache, inputs on this machine's
disk) are right for one process on a laptop and quietly wrong once several workers
serve the site. The number of workers is WEB_CONCURRENCY, which gunicorn also reads
as its worker count.
"""

import os

from django.conf import settings
from django.core import checks
from django.core.files.storage import FileSystemStorage
from django.utils.module_loading import import_string


def _workers() -> int:
    return settings.WEB_CONCURRENCY


@checks.register("dashboard", deploy=True)
def sqlite_with_several_workers(app_configs, **kwargs):
    workers = _workers()
    if workers > 1 and settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        return [
            checks.Warning(
                f"The database is SQLite, with {workers} workers (WEB_CONCURRENCY).",
                hint=(
                    "SQLite takes one writer at a time and lives on one machine's disk, so workers wait on "
                    "each other and no second instance can share it. Set DATABASE_URL to PostgreSQL "
                    "(postgres://...), with DATABASE_POOL_MAX if connections are scarce."
                ),
                id="dashboard.W001",
            )
        ]
    return []


@checks.register("dashboard", deploy=True)
def memory_cache_with_several_workers(app_configs, **kwargs):
    workers = _workers()
    backend = settings.CACHES["default"]["BACKEND"]
    if workers > 1 and backend == "django.core.cache.backends.locmem.LocMemCache":
        return [
            checks.Warning(
                f"The cache is each process's own memory, with {workers} workers (WEB_CONCURRENCY).",
                hint=(
                    f"Nothing is shared between workers: the per-designer job rate limit counts per worker "
                    f"(up to {workers} times JOB_RATE_LIMIT_PER_MINUTE), and every worker asks the API again for "
                    "what another already cached. Set REDIS_URL to a Redis all workers share."
                ),
                id="dashboard.W002",
            )
        ]
    return []


@checks.register("dashboard", deploy=True)
def local_media_with_several_workers(app_configs, **kwargs):
    workers = _workers()
    if workers > 1 and issubclass(import_string(settings.STORAGES["default"]["BACKEND"]), FileSystemStorage):
        return [
            checks.Warning(
                f"Uploaded inputs are kept on this machine's disk (MEDIA_ROOT={settings.MEDIA_ROOT}), "
                f"with {workers} workers (WEB_CONCURRENCY).",
                hint=(
                    "An instance on another machine cannot read inputs stored here: previews of inputs break and "
                    "'Try again' fails there. Set MEDIA_STORAGE=s3 and AWS_STORAGE_BUCKET_NAME (see README, "
                    "'Scaling out'). Only if every worker runs on this one machine is the local disk enough."
                ),
                id="dashboard.W003",
            )
        ]
    return []


@checks.register("dashboard", deploy=True)
def process_metrics_with_several_workers(app_configs, **kwargs):
    workers = _workers()
    if workers > 1 and settings.METRICS_TOKEN and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return [
            checks.Warning(
                f"/metrics counts per process, with {workers} workers (WEB_CONCURRENCY).",
                hint=(
                    "Each scrape shows the upstream calls of whichever worker answered it. Set "
                    "PROMETHEUS_MULTIPROC_DIR to an empty directory shared by this host's web, worker and "
                    "sync processes (emptied before they start) so a scrape adds them all up."
                ),
                id="dashboard.W004",
            )
        ]
    return []
