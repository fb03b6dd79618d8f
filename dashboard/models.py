"""What the dashboard remembers that the upstream does not.

The upstream is the source of truth for jobs, statuses and likes. Here we keep who
created which job, with which inputs (so a result can be reviewed beside them and run
again), the last status we saw, so polling knows which jobs to ask about, and the
review the upstream has no field for: cleared ratings, dislike reasons, notes, who rated.
"""

from pathlib import PurePath

from django.conf import settings
from django.db import models

from dashboard.genapi import Status


def spaced_words(words) -> str:
    """Words between spaces (" fit colour "): one column that a `contains` lookup of
    " word " filters by on SQLite and PostgreSQL alike."""
    ordered = list(dict.fromkeys(word for word in words if word))
    return f" {' '.join(ordered)} " if ordered else ""


class InputImageQuerySet(models.QuerySet):
    def visible_to(self, user) -> "InputImageQuerySet":
        """What `user` may see: their own images, inputs of any job (the team reviews
        results beside them), and library images not marked private."""
        return self.filter(
            models.Q(owner=user)
            | models.Q(pk__in=JobInput.objects.values("image"))
            | models.Q(in_library=True, private=False)
        )

    def unused(self) -> "InputImageQuerySet":
        """Images no job uses (a run's cells count as uses: they will be sent)."""
        return (
            self.exclude(pk__in=JobInput.objects.values("image"))
            .exclude(pk__in=RunCell.objects.values("row_image"))
            .exclude(pk__in=RunCell.objects.filter(column_image__isnull=False).values("column_image"))
        )

    def drafts(self) -> "InputImageQuerySet":
        """Form uploads no job uses: kept so a designer never picks the same file twice
        after a failure, bounded per designer and removed after a while
        (dashboard/library/uploads.py). Images added to the library on purpose are not drafts."""
        return self.unused().filter(in_library=False)


class InputImage(models.Model):
    """One uploaded image, checked and stripped of metadata, with a small thumbnail.

    Every kept upload is in the team's input library (dashboard/library/services.py), filed by
    the slot it was added for (`kind`: "clothes", "person", "room"...), with a name the
    team can change, tags, and an archive flag that hides it from pickers. An upload no
    job uses is the designer's draft, private to them."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="input_images")
    file = models.FileField(upload_to="inputs/%Y/%m/")
    thumbnail = models.FileField(upload_to="thumbnails/%Y/%m/")
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=32)
    size = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    # The library's fields. `name` starts as the file's name without its extension.
    name = models.CharField(max_length=120, blank=True)
    kind = models.CharField(max_length=32, blank=True, db_index=True)
    # Lower-case tags between spaces (see spaced_words).
    tags = models.CharField(max_length=300, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # Added to the library on purpose (not a form's draft), and whether only its owner sees it.
    in_library = models.BooleanField(default=False)
    private = models.BooleanField(default=False)
    # When a job (or a run's cell) first took it: library images never used are cleaned
    # up after LIBRARY_UNUSED_DAYS (`manage.py prune_library`).
    used_at = models.DateTimeField(null=True, blank=True)

    objects = InputImageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "-created_at"])]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name or PurePath(self.original_name).stem or self.original_name

    @property
    def tag_list(self) -> list[str]:
        return self.tags.split()


class Job(models.Model):
    Status = Status

    history_item_id = models.CharField(max_length=128, unique=True)
    designer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="jobs")
    tool = models.CharField(max_length=64)
    tool_title = models.CharField(max_length=128, blank=True)
    style_id = models.CharField(max_length=128, blank=True)
    style_title = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The last status seen upstream: tells polling which jobs still need asking about.
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    error_message = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the upstream first answered that it does not know this job (see jobs._record).
    missing_since = models.DateTimeField(null=True, blank=True)
    # The rating shown beside it where the tray draws it: set there, never stored.
    like: bool | None
    # The matrix run that sent it, if any (dashboard/runs/services.py).
    run = models.ForeignKey("Run", on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["designer", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.tool} {self.history_item_id}"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING


class JobInput(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="inputs")
    slot = models.CharField(max_length=32)
    label = models.CharField(max_length=64)
    image = models.ForeignKey(InputImage, on_delete=models.PROTECT, related_name="uses")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["job", "slot"], name="one_image_per_slot")]

    def __str__(self) -> str:
        return f"{self.label} of {self.job_id}"


class Submission(models.Model):
    """One sent form (generate, run again, a matrix run), named by the one-time token its page carried:
    a second POST with the same token finds this row and sends nothing upstream.

    The unique constraint makes the claim atomic across workers and machines; `job` is
    empty while the first request is still talking to the upstream.
    """

    designer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=64)
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # For a matrix run's form: the run it started (empty while it is being started).
    run = models.ForeignKey("Run", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["designer", "token"], name="one_send_per_token")]

    def __str__(self) -> str:
        return f"form {self.token[:8]}… sent by {self.designer_id}"


class AuditEntry(models.Model):
    """Who did what to which result, when, and whether the upstream took it.

    Written by the code that performs the action (dashboard/jobs/services.py), after the upstream
    answered; shown on the result's lightbox. Entries outlive the result and the account.
    """

    class Action(models.TextChoices):
        RUN = "run", "sent"
        RERUN = "rerun", "ran again"
        LIKE = "like", "liked"
        DISLIKE = "dislike", "disliked"
        CLEAR = "clear", "cleared the rating"
        REASONS = "reasons", "gave reasons"
        NOTE = "note", "wrote a note"
        TRASH = "trash", "moved to the trash"
        RESTORE = "restore", "restored"
        DELETE = "delete", "deleted"
        CANCEL_RUN = "cancel_run", "cancelled the run"
        RETRY = "retry", "tried again"
        NAME_RUN = "name_run", "named the run"

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=16, choices=Action.choices)
    # The result acted on; for a run, the result it made ("" when none was made).
    history_item_id = models.CharField(max_length=128, blank=True)
    # For "run again": the result it was run again from.
    source_item_id = models.CharField(max_length=128, blank=True)
    # The run acted on (cancelled, its failed cells tried again); the run page lists them.
    run = models.ForeignKey("Run", on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_entries")
    bulk = models.BooleanField(default=False)
    succeeded = models.BooleanField(default=True)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "audit entries"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["history_item_id", "-created_at"]),
            models.Index(fields=["source_item_id", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.history_item_id or self.source_item_id}"


class Review(models.Model):
    """The team's review of one result, beside the upstream's like (true or false only).

    A cleared rating cannot be stored upstream, so it is kept here: `cleared` with the
    upstream's like at that moment. While the upstream still says the same, the result
    shows as unrated; once it says otherwise (rated again elsewhere), the upstream wins.
    """

    class Reason(models.TextChoices):
        GARMENT = "garment", "Garment distorted"
        FIT = "fit", "Wrong fit or length"
        BODY = "body", "Face or body changed"
        ARTEFACTS = "artefacts", "Artefacts"
        LIGHTING = "lighting", "Background or lighting"
        COLOUR = "colour", "Colour off"
        OTHER = "other", "Other"

    history_item_id = models.CharField(max_length=128, unique=True)
    # Reason codes between spaces (" fit colour "): one column that a `contains` lookup
    # filters by on SQLite and PostgreSQL alike.
    reasons = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True)
    cleared = models.BooleanField(default=False)
    like_when_cleared = models.BooleanField(null=True, blank=True)
    rated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    rated_by_name = models.CharField(max_length=150, blank=True)
    rated_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"review of {self.history_item_id}"

    @property
    def reason_codes(self) -> list[str]:
        return self.reasons.split()

    def set_reasons(self, codes) -> None:
        ordered = [code for code in self.Reason.values if code in set(codes)]
        self.reasons = f" {' '.join(ordered)} " if ordered else ""

    def like_shown(self, upstream_like: bool | None) -> bool | None:
        if self.cleared and upstream_like == self.like_when_cleared:
            return None
        return upstream_like


class TrashedResult(models.Model):
    """A result a designer deleted: hidden from the gallery at once, still upstream until
    the trash is emptied, "Delete forever" is chosen, or it has been here TRASH_DAYS
    (`manage.py purge_trash`). Until then "Undo" or "Restore" brings it back."""

    history_item_id = models.CharField(max_length=128, unique=True)
    trashed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    trashed_by_name = models.CharField(max_length=150)
    trashed_at = models.DateTimeField(db_index=True)
    # What the Trash page shows without reading each result upstream.
    title = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETE)

    class Meta:
        ordering = ["-trashed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.history_item_id} in the trash"


RUN_NAME_MAX_LENGTH = 80


class WorkerBeat(models.Model):
    """A background worker's heartbeat (dashboard/runs/workers.py): written every few
    seconds while it runs. One silent for WORKER_DEAD_AFTER_SECONDS is dead, and the
    workers still beating take over what it held."""

    name = models.CharField(max_length=64, primary_key=True)
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"worker {self.name}"


class Run(models.Model):
    """A matrix run: one tool and style, N images for one slot (the rows) times M for
    the other (the columns), sent as N×M jobs by the background worker
    (dashboard/runs/services.py). A tool with one slot makes a run of one column."""

    designer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="runs")
    designer_name = models.CharField(max_length=150)
    # What the designers call it ("Spring dresses on the new models"); "" shows "Run #N".
    # A database default too: an instance of the previous release inserts without it.
    name = models.CharField(max_length=RUN_NAME_MAX_LENGTH, blank=True, default="", db_default="")
    tool = models.CharField(max_length=64)
    tool_title = models.CharField(max_length=128, blank=True)
    style_id = models.CharField(max_length=128, blank=True)
    style_title = models.CharField(max_length=200, blank=True)
    row_slot = models.CharField(max_length=32)
    row_label = models.CharField(max_length=64)
    column_slot = models.CharField(max_length=32, blank=True)
    column_label = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.tool}"

    @property
    def shown_name(self) -> str:
        return self.name or f"Run #{self.pk}"


class RunCell(models.Model):
    """One job of a run, and its idempotency record.

    A worker may send the cell only after claiming it: one conditional UPDATE from
    QUEUED to SENDING for this `attempt` (dashboard/runs/services.py, `claim`), which exactly one
    worker wins on any database, however many workers on however many machines hold a
    task for it. The upstream id is recorded in the same transaction that creates the
    Job, as soon as the upstream answers. A cell left in SENDING (its worker died while
    the upstream was answering) is never sent again by itself: it may exist upstream.
    "Try again" makes a new attempt of a cell whose job failed or was never made.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Waiting to be sent"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        NOT_SENT = "not_sent", "Not sent"
        CANCELLED = "cancelled", "Cancelled"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="cells")
    row = models.PositiveSmallIntegerField()
    column = models.PositiveSmallIntegerField()
    row_image = models.ForeignKey(InputImage, on_delete=models.PROTECT, related_name="+")
    column_image = models.ForeignKey(InputImage, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED, db_index=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    claimed_by = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Why the upstream did not take the job (NOT_SENT), in the designer's words.
    problem = models.CharField(max_length=300, blank=True)
    # The job of the latest attempt; earlier attempts' jobs stay in History.
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The background task that will send it (its id in Django's tasks API, a string: a
    # UUID from the database backend, 32 letters and digits from RQ's): a queued cell whose
    # task died with its worker is found by it and enqueued again (runs.revive).
    # Nullable, as the UUID column it replaced was: the previous release still writes NULL
    # during a rolling deploy (README, "Upgrading").
    task_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001

    class Meta:
        ordering = ["row", "column"]
        constraints = [models.UniqueConstraint(fields=["run", "row", "column"], name="one_cell_per_place")]

    def __str__(self) -> str:
        return f"cell {self.row}×{self.column} of run {self.run_id}"


class SendPacer(models.Model):
    """When the next job may be sent to the upstream, shared by every worker.

    One row per name; workers reserve send times from it with a compare-and-set UPDATE
    (dashboard/runs/services.py, `reserve_send_time`), so pacing holds across processes and
    machines on SQLite and PostgreSQL alike without table locks."""

    name = models.CharField(max_length=32, unique=True)
    next_send_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name}: next send at {self.next_send_at}"


class IndexedResult(models.Model):
    """One result of the team's upstream history, as the dashboard last saw it: the index
    every page reads (dashboard/index/). The upstream stays the source of truth; the sync
    process (`manage.py sync_index`) keeps these rows current, and a change made here
    reaches its row once the upstream has confirmed it.

    Beside the upstream's fields it keeps what the filters need at hand: who made it and
    the run (for results made here), whether it is in the trash, the rating as designers
    see it (the upstream's like, unless the dashboard cleared it) and the words a search
    looks in."""

    class Rating(models.TextChoices):
        LIKED = "liked", "Liked"
        DISLIKED = "disliked", "Disliked"
        UNRATED = "unrated", "Not rated"

    history_item_id = models.CharField(max_length=128, unique=True)
    # The tool that made it (a style's tool when the upstream names the style instead).
    tool = models.CharField(max_length=128, blank=True)
    style_id = models.CharField(max_length=128, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    raw_status = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    like = models.BooleanField(null=True, blank=True)
    rating = models.CharField(max_length=10, choices=Rating.choices, default=Rating.UNRATED)
    # The review's dislike reasons, as Review.reasons keeps them (" fit colour "): copied
    # here so the reason filter reads the gallery's index alone.
    reasons = models.CharField(max_length=200, blank=True)
    preview_path = models.CharField(max_length=500, blank=True)
    stock_path = models.CharField(max_length=500, blank=True)
    error_message = models.TextField(blank=True)
    # Fields outside the contract, shown in the lightbox's technical details.
    extra = models.JSONField(default=dict, blank=True)
    # Newest first is the gallery's order: the upstream's time, else when first seen.
    # Results of one second (the upstream's times have no finer grain) follow by their
    # id, highest first, as the upstream lists them; never by the order the sync met them.
    sort_at = models.DateTimeField()
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    run = models.ForeignKey("Run", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    in_trash = models.BooleanField(default=False)
    # Tool and style titles, input names and tags, the note, the run and the designer.
    search_text = models.TextField(blank=True)
    # When the sync last saw it upstream (a sweep's check of what is gone starts here).
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-sort_at", "-history_item_id"]
        indexes = [
            # The gallery's: newest first, with every column its filters compare, so a
            # count or a page under any combination of them reads this index alone (on
            # 100,000 results a per-filter index left SQLite a row read for each match:
            # 140 to 350 ms a count). Migration 0012 adds the search's.
            models.Index(
                fields=[
                    "in_trash",
                    "-sort_at",
                    "-history_item_id",
                    "status",
                    "tool",
                    "style_id",
                    "rating",
                    "reasons",
                    "created_at",
                ],
                name="index_newest",
            ),
            models.Index(fields=["made_by", "-sort_at"], name="index_by_designer"),
            models.Index(fields=["run", "-sort_at"], name="index_by_run"),
            models.Index(fields=["seen_at"], name="index_by_seen"),
        ]

    def __str__(self) -> str:
        return f"{self.tool or 'result'} {self.history_item_id}"


class SyncState(models.Model):
    """The sync process's progress and lease, one row (`name` "history").

    Only the process holding the lease (`holder` until `lease_until`) calls the upstream;
    a second one waits, so two machines cost no more calls than one. The first sync's
    place (`first_sync_page`) is saved after each page, so it resumes after a crash."""

    name = models.CharField(max_length=32, unique=True)
    holder = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    first_sync_done = models.BooleanField(default=False)
    first_sync_page = models.PositiveIntegerField(default=1)
    upstream_total = models.PositiveIntegerField(null=True, blank=True)
    upstream_pages = models.PositiveIntegerField(null=True, blank=True)
    sweep_page = models.PositiveIntegerField(default=1)
    sweep_started_at = models.DateTimeField(null=True, blank=True)
    # The oldest time the sweep's last page showed: the next page's window ends there.
    sweep_boundary = models.DateTimeField(null=True, blank=True)
    last_sweep_finished_at = models.DateTimeField(null=True, blank=True)
    last_follow_at = models.DateTimeField(null=True, blank=True)
    last_running_at = models.DateTimeField(null=True, blank=True)
    # The last call that the upstream answered, and what went wrong since, if anything.
    last_contact_at = models.DateTimeField(null=True, blank=True)
    problem = models.CharField(max_length=300, blank=True)
    # The tools and styles as the sync last read them: titles without an upstream call.
    catalogue = models.JSONField(null=True, blank=True)
    # Counts every change to the index's rows (index.services.changed): the gallery's
    # totals are kept in the cache under it, so a change makes them counted again.
    version = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"sync of {self.name}"
