"""A seeded history for the insights' tests: 150 indexed results over two tools, three
styles, two designers (and results made elsewhere), ten weeks, garments and model photos,
every status and rating, with dislike reasons. `seed()` returns the rows as plain dicts,
which the tests count over in Python, apart from the dashboard's queries."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from dashboard.models import IndexedResult, Job, JobInput, SyncState
from tests.factories import InputImageFactory

REASON_SETS = [" fit ", " colour ", " fit colour ", " artefacts ", " garment fit ", " other "]
SEEDED = 150


def seed(ada, bob, *, now: datetime | None = None) -> list[dict]:
    SyncState.objects.get_or_create(name="history")
    now = now or timezone.now()
    garments = [InputImageFactory(owner=ada, kind="clothes", name=f"Garment {n}", in_library=True) for n in (1, 2, 3)]
    models = [InputImageFactory(owner=ada, kind="person", name=f"Model {n}", in_library=True) for n in (1, 2)]
    seeded = []
    for number in range(SEEDED):
        status = "error" if number % 7 == 0 else ("pending" if number % 11 == 0 else "complete")
        rating = "unrated"
        if status == "complete":
            rating = "liked" if number % 3 == 0 else ("disliked" if number % 5 == 0 or number % 8 == 0 else "unrated")
        created = now - timedelta(hours=11 * number + 1)
        finished = None
        if status != "pending" and number % 13 != 0:
            finished = created + timedelta(seconds=5 + (number * 37) % 90)
        row = {
            "history_item_id": f"ins{number:021d}",
            "tool": "fashion_swap" if number % 4 else "furniture",
            "style_id": ["studio", "street", ""][number % 3],
            "status": status,
            "raw_status": status,
            "rating": rating,
            "like": {"liked": True, "disliked": False}.get(rating),
            "reasons": REASON_SETS[number % len(REASON_SETS)] if rating == "disliked" else "",
            "created_at": created,
            "finished_at": finished,
            "sort_at": created,
            "seen_at": now,
            "made_by": ada if number % 2 else (bob if number % 5 else None),
            "in_trash": number == 4,
        }
        IndexedResult.objects.create(**row)
        if row["made_by"] is not None:
            job = Job.objects.create(
                history_item_id=row["history_item_id"], designer=row["made_by"], tool=row["tool"], status=status
            )
            row["inputs"] = [garments[number % 3].pk]
            JobInput.objects.create(job=job, slot="clothes", label="Garment", image=garments[number % 3])
            if row["tool"] == "fashion_swap":
                JobInput.objects.create(job=job, slot="person", label="Model", image=models[number % 2], position=1)
                row["inputs"].append(models[number % 2].pk)
        seeded.append(row)
    return seeded
