"""Failed logins, and which of them lock what (django-axes counts them in the database,
so every worker sees the same counts)."""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum


class PairAndAddressHandler(AxesDatabaseHandler):
    """The pair (account, address) is locked after LOGIN_FAILURE_LIMIT failures, and an
    address alone after LOGIN_ADDRESS_FAILURE_LIMIT failures over any accounts (a spray).
    An account is never locked for every address: nobody can lock a designer out from
    elsewhere, and a spray from one office's address does not lock the office until the
    higher limit. axes compares one count with one limit: the address's is scaled to it."""

    def get_failures(self, request, credentials=None) -> int:
        # One queryset per AXES_LOCKOUT_PARAMETERS entry, in its order: the pair, the address.
        pair, address = (
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        return max(pair, address * settings.AXES_FAILURE_LIMIT // settings.LOGIN_ADDRESS_FAILURE_LIMIT)

    def reset_user_attempts(self, request, credentials=None) -> int:
        """A login forgives its own account's failures from that address (AXES_RESET_ON_SUCCESS),
        never the spray's: a colleague logging in from the same office does not reset it."""
        pair = self.filter_user_attempts(request, credentials)[0]
        count, _ = pair.delete()
        return count
