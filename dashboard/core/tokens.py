"""The one-time form token: a form that sends work upstream (Generate, Try again, Run
again, a matrix run) carries a token made when it was drawn, and a second send of the
same form (a double click, a resent request) sends nothing.

The claim is a `Submission` row with a unique (designer, token) constraint, so it holds
across threads, workers and machines. It is given back when nothing was made (the
upstream refused, or could not be reached), so the designer may send the same form
again; once something was made it names it (`job` or `run`), so a replay can say what.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from django import forms
from django.db import IntegrityError, transaction
from django.utils import timezone

from dashboard.models import Job, Run, Submission

PATTERN = r"[A-Za-z0-9_-]{16,64}"
# A form older than this, sent again, counts as new: its token is forgotten by
# `manage.py prune_drafts`, so the table holds about a day of sends.
KEPT_DAYS = 1
OUT_OF_DATE = "This form is out of date, so it was not sent. Your photos are kept: press Generate again."


def new() -> str:
    """A fresh token, for a form being drawn."""
    return secrets.token_urlsafe(18)


def is_token(value: str | None) -> bool:
    return bool(re.fullmatch(PATTERN, value or ""))


def carried(value: str | None) -> str:
    """The token a form drawn again carries: the one it was sent with while that is
    well-formed (still unclaimed, or the page would say it was sent), else a fresh one."""
    return value if value and is_token(value) else new()


class TokenField(forms.RegexField):
    """A form's hidden one-time token: a fresh one in a form drawn anew, the one it was
    sent with in a form drawn again (see `carried`); a missing or malformed one says the
    form is out of date."""

    def __init__(self, *, out_of_date: str = OUT_OF_DATE, **kwargs):
        kwargs.setdefault("widget", forms.HiddenInput)
        kwargs.setdefault("error_messages", {"required": out_of_date, "invalid": out_of_date})
        kwargs.setdefault("initial", new)
        super().__init__(regex=rf"^{PATTERN}$", **kwargs)

    def bound_data(self, data, initial):
        return carried(data)


class AlreadySent(Exception):
    """The form with this token was sent before. `job` or `run` is what it made; both
    are None while the first request is still under way."""

    def __init__(self, job: Job | None = None, run: Run | None = None):
        super().__init__("already sent")
        self.job = job
        self.run = run


def earlier_send(designer, token: str) -> AlreadySent | None:
    """Whether a form with this token was sent already by this designer, and what it made."""
    if not is_token(token):
        return None
    earlier = Submission.objects.filter(designer=designer, token=token).select_related("job", "run").first()
    return AlreadySent(job=earlier.job, run=earlier.run) if earlier else None


class Claim:
    """A token taken for one send: `fulfilled` with what it made, or `given_back`."""

    def __init__(self, submission: Submission):
        self.submission = submission

    def fulfilled(self, *, job: Job | None = None, run: Run | None = None) -> None:
        Submission.objects.filter(pk=self.submission.pk).update(job=job, run=run)

    def given_back(self) -> None:
        """Nothing was made: the same form may be sent again."""
        self.submission.delete()


def claim(designer, token: str) -> Claim:
    """Take the token for this send; AlreadySent if it was taken before (by any worker)."""
    try:
        with transaction.atomic():
            return Claim(Submission.objects.create(designer=designer, token=token))
    except IntegrityError:
        raise earlier_send(designer, token) or AlreadySent() from None


def forget_old() -> int:
    """Forget the tokens of forms sent more than KEPT_DAYS ago; how many."""
    cutoff = timezone.now() - timedelta(days=KEPT_DAYS)
    return Submission.objects.filter(created_at__lt=cutoff).delete()[0]
