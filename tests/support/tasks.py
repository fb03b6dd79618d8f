"""The send tasks the configured task backend holds (TASKS_BACKEND: the database or RQ),
each read through Django's tasks API: the tests of the background workers assert the same
things on both backends. Only this lookup of every task's id knows where each keeps them.
"""

from __future__ import annotations

from django.conf import settings
from django.tasks import TaskResult


def send_tasks() -> list[TaskResult]:
    from dashboard.runs.tasks import send_cell

    return [send_cell.get_result(task_id) for task_id in _task_ids()]


def with_status(*statuses: str) -> list[TaskResult]:
    return [task for task in send_tasks() if task.status in statuses]


def settled() -> bool:
    """No task is waiting or running."""
    return not with_status("READY", "RUNNING")


def _task_ids() -> list[str]:
    if settings.TASKS_BACKEND == "rq":
        import django_rq

        queue = django_rq.get_queue("default")
        ids = set(queue.get_job_ids())
        for registry in (
            queue.started_job_registry,
            queue.scheduled_job_registry,
            queue.deferred_job_registry,
            queue.finished_job_registry,
            queue.failed_job_registry,
            queue.canceled_job_registry,
        ):
            ids.update(registry.get_job_ids())
        return sorted(ids)
    from django_tasks_db.models import DBTaskResult

    return [str(task_id) for task_id in DBTaskResult.objects.values_list("id", flat=True)]


def forget(task_id: str) -> None:
    """The backend loses a task, as a Redis restarted without persistence would, or a
    row deleted by hand."""
    if settings.TASKS_BACKEND == "rq":
        import django_rq

        job = django_rq.get_queue("default").fetch_job(task_id)
        assert job is not None, f"no task {task_id} to forget"
        job.delete()
        return
    from django_tasks_db.models import DBTaskResult

    assert DBTaskResult.objects.filter(id=task_id).delete()[0] == 1, f"no task {task_id} to forget"
