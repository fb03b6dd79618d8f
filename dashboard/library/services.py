"""The team's input library: finding, adding, naming, tagging, archiving and pruning images.

Every image a job used is in the library (file_in_library), and so is every image
added on the library page on purpose. Who may do what:

- anyone on the team sees library images, except those their owner made private;
- any teammate who can see an image may rename, tag, archive and restore it (the library
  is shared work, like the gallery's ratings);
- only its owner may make it private or share it again.

Pickers (the generate form, its `?person=` links, matrix runs) take any image that
`pickable(user)` finds: never someone else's private image or draft, never an archived one.
Views call these; every refusal is a `LibraryRefused` with a sentence for the designer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from dashboard.core import images, slots, storage
from dashboard.index import services as index
from dashboard.library import uploads
from dashboard.models import InputImage, spaced_words

PAGE_SIZE = 48
MAX_NAME_LENGTH = 120
MAX_TAGS = 10
MAX_TAG_LENGTH = 24
# Letters, digits and inner dashes or underscores: a tag reads the same in a URL and a chip.
TAG = re.compile(r"^[\w][\w-]*$")


class LibraryRefused(Exception):
    """What the designer asked for cannot be done; `message` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def kinds() -> dict[str, str]:
    """The kinds of image the library files ("clothes" → "Garment"...), from the slot table."""
    return slots.kinds()


def kind_label(kind: str) -> str:
    return kinds().get(kind) or (kind.replace("_", " ").capitalize() if kind else "Image")


def shown_to(user) -> QuerySet[InputImage]:
    """Every image `user` may see in the library or take into a form: their own (drafts
    included), and the team's library images that are not private to someone else."""
    return (
        InputImage.objects.visible_to(user)
        .filter(Q(owner=user) | Q(in_library=True))
        .exclude(Q(private=True) & ~Q(owner=user))
    )


def pickable(user) -> QuerySet[InputImage]:
    """Images `user` may put in a slot: shown to them and not archived."""
    return shown_to(user).filter(archived_at__isnull=True)


def editable(user) -> QuerySet[InputImage]:
    """Library images `user` may rename, tag, archive (any teammate who can see them)."""
    return shown_to(user).filter(in_library=True)


def search(user, *, kind: str = "", q: str = "", mine: bool = False, archived: bool = False) -> QuerySet[InputImage]:
    """Library images for `user`, newest first, with `use_count` and the owner fetched.

    `kind` keeps one slot's kind; `q` keeps images whose name contains each of its words
    or that have a tag starting with it (case-insensitive); `mine` keeps the user's own;
    `archived` shows archived images as well (they are left out otherwise).
    """
    found = editable(user)
    if kind:
        found = found.filter(kind=kind)
    # NUL is in no name, and PostgreSQL refuses it in any query string.
    for word in q.replace("\x00", "").lower().split()[:8]:
        found = found.filter(Q(name__icontains=word) | Q(tags__contains=f" {word}"))
    if mine:
        found = found.filter(owner=user)
    if not archived:
        found = found.filter(archived_at__isnull=True)
    return found.select_related("owner").annotate(use_count=Count("uses")).order_by("-created_at", "-pk")


CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def parse_tags(text: str) -> list[str]:
    """Tags as typed ("Summer, linen  blue"): split on commas and spaces, lower-cased,
    a leading # dropped, duplicates once. Refuses too many, too long or odd ones."""
    tags = list(dict.fromkeys(word.lstrip("#").lower() for word in re.split(r"[,\s]+", text) if word.lstrip("#")))
    if len(tags) > MAX_TAGS:
        raise LibraryRefused(f"An image can have up to {MAX_TAGS} tags; you gave {len(tags)}.")
    for tag in tags:
        if len(tag) > MAX_TAG_LENGTH:
            raise LibraryRefused(f"The tag “{tag[:40]}” is too long: tags have at most {MAX_TAG_LENGTH} characters.")
        if not TAG.fullmatch(tag):
            raise LibraryRefused(f"The tag “{tag[:40]}” has characters tags cannot have: use letters, digits, - and _.")
    return tags


def clean_name(text: str) -> str:
    # Control characters (NUL among them, which PostgreSQL refuses) read as spaces.
    name = " ".join(CONTROL_CHARACTERS.sub(" ", text).split())
    if not name:
        raise LibraryRefused("Give the image a name.")
    if len(name) > MAX_NAME_LENGTH:
        raise LibraryRefused(f"A name has at most {MAX_NAME_LENGTH} characters; this one has {len(name)}.")
    return name


def rename(user, image: InputImage, name: str) -> InputImage:
    """Any teammate who can see the image may rename it."""
    _check_editable(user, image)
    image.name = clean_name(name)
    image.save(update_fields=["name"])
    index.inputs_renamed(image)
    return image


def set_tags(user, image: InputImage, text: str) -> InputImage:
    """Any teammate who can see the image may tag it; the tags replace the old ones."""
    _check_editable(user, image)
    image.tags = spaced_words(parse_tags(text))
    image.save(update_fields=["tags"])
    index.inputs_renamed(image)
    return image


def archive(user, image: InputImage) -> InputImage:
    """Hide the image from pickers and the library's default view (any teammate)."""
    _check_editable(user, image)
    if image.archived_at is None:
        image.archived_at = timezone.now()
        image.save(update_fields=["archived_at"])
    return image


def unarchive(user, image: InputImage) -> InputImage:
    _check_editable(user, image)
    if image.archived_at is not None:
        image.archived_at = None
        image.save(update_fields=["archived_at"])
    return image


def set_private(user, image: InputImage, private: bool) -> InputImage:
    """Only the owner may make their image private, or share it with the team again.
    A private image stays beside the results that used it (the team reviews those)."""
    _check_editable(user, image)
    if image.owner_id != user.pk:
        raise LibraryRefused(f"Only {image.owner.get_username()}, who added it, can change who sees this image.")
    if image.private != private:
        image.private = private
        image.save(update_fields=["private"])
    return image


# What each of a card's buttons does, and what the card then says.
CARD_ACTIONS = {
    "archive": ("Archived: it no longer shows in pickers. Restore brings it back.", archive),
    "unarchive": ("Restored: it shows in pickers again.", unarchive),
    "private": (
        "Now private: only you see it in the library. Results that used it still show it to the team.",
        lambda user, image: set_private(user, image, True),
    ),
    "share": ("Shared with the team.", lambda user, image: set_private(user, image, False)),
}


def change(user, image: InputImage, action: str, *, name: str = "", tags: str = "") -> str:
    """One of a card's changes: rename and tag (`save`), archive or restore, make private
    or share; the sentence the card then says. LibraryRefused says why not."""
    if action == "save":
        # Both checked before either is stored: a refused tag keeps the old name too.
        clean_name(name)
        parse_tags(tags)
        rename(user, image, name)
        set_tags(user, image, tags)
        return "Saved."
    if action not in CARD_ACTIONS:
        raise LibraryRefused("That is not something the library can do.")
    said, act = CARD_ACTIONS[action]
    act(user, image)
    return said


def _check_editable(user, image: InputImage) -> None:
    if not editable(user).filter(pk=image.pk).exists():
        raise LibraryRefused("This image is not in the library, or not yours to see.")


def file_in_library(used: Iterable[InputImage]) -> None:
    """Images a job took join the team's library (a form's draft no longer), and keep
    the time of their first use."""
    ids = [image.pk for image in used]
    InputImage.objects.filter(pk__in=ids, in_library=False).update(in_library=True)
    InputImage.objects.filter(pk__in=ids, used_at__isnull=True).update(used_at=timezone.now())


def add_to_library(owner, upload: UploadedFile, info: images.ImageInfo, kind: str) -> InputImage:
    """Keep an upload that passed its checks, filed in the library under `kind`."""
    image = uploads.store(owner, upload, info, kind=kind)
    image.in_library = True
    image.save(update_fields=["in_library"])
    return image


@dataclass
class Added:
    """What happened to a set of files added at once."""

    images: list[InputImage] = field(default_factory=list)
    # (file name, why it was not kept)
    refused: list[tuple[str, str]] = field(default_factory=list)


def add_files(owner, files: Iterable[UploadedFile], kind: str, *, may_read: int | None = None) -> Added:
    """Check each file exactly as the generate form does (the per-minute limits, then
    the image checks) and keep those that pass; a refused file is never stored, and
    does not stop the others. At most `may_read` files (UPLOADS_PER_REQUEST) are read at
    all; the others are refused unread, each by name. While the image store is not
    answering, the rest are refused with that reason (StorageUnavailable)."""
    if kind not in kinds():
        raise LibraryRefused("Choose what kind of image these are.")
    added = Added()
    may_read = settings.UPLOADS_PER_REQUEST if may_read is None else may_read
    store_away = False
    for place, upload in enumerate(files):
        name = (upload.name or "file")[:120]
        if place >= may_read:
            added.refused.append((name, uploads.unread_refusal()))
            continue
        if store_away:  # not tried: each would wait for the store's timeouts again
            added.refused.append((name, storage.PHOTO_NOT_SAVED))
            continue
        try:
            info = uploads.checked(owner, upload)
            added.images.append(add_to_library(owner, upload, info, kind))
        except uploads.UploadRefused as exc:
            added.refused.append((name, exc.message))
        except storage.StorageUnavailable:
            added.refused.append((name, storage.PHOTO_NOT_SAVED))
            store_away = True
    return added


def add_chosen_files(owner, files: list[UploadedFile], kind: str) -> tuple[Added, str]:
    """The library page's "Add": what was added and refused, and why nothing could be."""
    if not files:
        return Added(), "Choose one or more images to add."
    try:
        return add_files(owner, files, kind), ""
    except LibraryRefused as exc:
        return Added(), exc.message


def unused_images(older_than: timedelta) -> QuerySet[InputImage]:
    """Library images no job ever used (nor a run is about to), added before `older_than` ago."""
    cutoff = timezone.now() - older_than
    return InputImage.objects.unused().filter(in_library=True, used_at__isnull=True, created_at__lt=cutoff)


def prune_unused(older_than: timedelta | None = None) -> tuple[list[str], int]:
    """Delete library images never used and older than this (LIBRARY_UNUSED_DAYS by
    default), rows and files: (their names, bytes freed). Safe beside other processes
    doing the same, or a job taking one of them meanwhile (uploads.delete_unused)."""
    age = older_than if older_than is not None else timedelta(days=settings.LIBRARY_UNUSED_DAYS)
    stale = list(unused_images(age).order_by("pk").values_list("pk", "name", "original_name"))
    names = {pk: name or original for pk, name, original in stale}
    removed: list[str] = []
    total = 0
    for pk in names:
        count, size = uploads.delete_unused([pk], among=lambda: unused_images(age))
        if count:
            removed.append(names[pk])
            total += size
    return removed, total
