"""The import path of the tasks that the release before the feature folders enqueued.

A queued task is stored with its import path, and a worker imports it by that path:
tasks enqueued as `dashboard.tasks.send_cell` before an upgrade still run after it.
Remove this module one release later, once no such task can be left in the queue.
"""

from dashboard.runs.tasks import send_cell

__all__ = ["send_cell"]
