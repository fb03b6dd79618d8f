"""A result's note, written in the lightbox's review panel (reviews.save_note keeps it)."""

from __future__ import annotations

from django import forms

NOTE_MAX_CHARS = 2000


class NoteForm(forms.Form):
    note = forms.CharField(
        required=False,
        max_length=NOTE_MAX_CHARS,
        label="Note",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Anything the team should know about this result"}),
    )

    def __init__(self, data=None, *, item_id: str, **kwargs):
        # One panel per result: ids carry the result's (note-<id>).
        super().__init__(data, auto_id=f"%s-{item_id}", **kwargs)
