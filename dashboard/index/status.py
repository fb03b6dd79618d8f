"""How current the index is, as designers see it ("Up to date", "Catching up: 1,240 of
10,000") and as /healthz reports it (the sync's lag)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from dashboard.core import display
from dashboard.models import IndexedResult, SyncState


@dataclass(frozen=True)
class IndexStatus:
    indexed: int
    upstream_total: int | None
    first_sync_done: bool
    # The last upstream answer the sync had, and what went wrong since, if anything.
    last_contact_at: datetime | None
    problem: str

    @property
    def lag_seconds(self) -> float | None:
        """How old the index's news is (None: the sync never reached the upstream)."""
        if self.last_contact_at is None:
            return None
        return max(0.0, (timezone.now() - self.last_contact_at).total_seconds())

    @property
    def stale(self) -> bool:
        lag = self.lag_seconds
        return lag is None or lag > settings.SYNC_STALE_SECONDS

    @property
    def level(self) -> str:
        """ "current", "catching-up" or "stale": how the gallery's status line looks."""
        if self.stale:
            return "stale"
        return "current" if self.first_sync_done else "catching-up"

    @property
    def sentence(self) -> str:
        if self.last_contact_at is None:
            return "The history has not been read from the generation service yet: only results made here show."
        if self.stale:
            since = display.age(self.last_contact_at).removesuffix(" ago")
            if not self.problem:
                # The upstream did not fail: the sync process is not running (or is stuck).
                return f"Last updated {since} ago: new results and changes made elsewhere may be missing."
            reason = "" if "cannot be reached" in self.problem else f" ({self.problem.rstrip('.')})"
            return (
                f"Last updated {since} ago: the generation service cannot be reached{reason}. "
                "Ratings and deletes need it: they are refused until it answers, and nothing is lost."
            )
        if not self.first_sync_done:
            total = f" of {self.upstream_total:,}" if self.upstream_total is not None else ""
            return f"Catching up: {self.indexed:,}{total} results read. The newest show first."
        return "Up to date"


def current() -> IndexStatus:
    sync = SyncState.objects.filter(name="history").first()
    caught_up = bool(sync and sync.first_sync_done)
    return IndexStatus(
        # Counted only while it is said ("Catching up: 1,240 of 10,000"): a count costs time.
        indexed=0 if caught_up else IndexedResult.objects.count(),
        upstream_total=sync.upstream_total if sync else None,
        first_sync_done=bool(sync and sync.first_sync_done),
        last_contact_at=sync.last_contact_at if sync else None,
        problem=sync.problem if sync else "",
    )
