"""Background tasks, run by `manage.py db_worker` (django-tasks-db's worker).

Thin: the logic lives in dashboard/runs/services.py, where it can be called and tested directly.
"""

from django.tasks import TaskContext, task

from dashboard.observability import logs
from dashboard.runs import services as runs


@task(takes_context=True)
def send_cell(context: TaskContext, cell_id: int, attempt: int, tries: int = 0, reserved_at: str = "") -> str:
    """Send one cell of a matrix run (at most once per attempt, paced across workers)."""
    worker = context.task_result.worker_ids[-1] if context.task_result.worker_ids else "worker"
    # Every line of this cell's sending, its upstream call's too, says which task and cell.
    with logs.bound(task_id=str(context.task_result.id), cell=cell_id):
        return runs.send_cell(cell_id, attempt, tries, reserved_at, worker=worker)
