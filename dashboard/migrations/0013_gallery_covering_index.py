"""The gallery's index covers every column its filters compare, so a count or a page
under any combination of filters reads the index alone; the per-filter indexes it
replaces left SQLite reading a table row for every match (140 to 350 ms a count at
100,000 results, bench/history_index.py). For the same reason a review's dislike
reasons are copied onto its result's row (`reasons`). SyncState.version counts the
index's changes: the gallery keeps its totals in the cache under it.

On SQLite, searching is containment (LIKE '%word%'), which no index can seek: it gets
the same index with the words appended (`index_words`), so a search scans only that.
PostgreSQL searches through its GIN index (0012) instead."""

from django.db import migrations, models

WORDS_INDEX = "index_words"
GALLERY_FIELDS = ["in_trash", "-sort_at", "-id", "status", "tool", "style_id", "rating", "reasons", "created_at"]


def copy_reasons(apps, schema_editor):
    """Reviews given before this migration: their reasons onto their results' rows."""
    indexed, review = apps.get_model("dashboard", "IndexedResult"), apps.get_model("dashboard", "Review")
    for item_id, reasons in review.objects.exclude(reasons="").values_list("history_item_id", "reasons").iterator():
        indexed.objects.filter(history_item_id=item_id).update(reasons=reasons)


def words_index():
    return models.Index(fields=[*GALLERY_FIELDS, "search_text"], name=WORDS_INDEX)


def add_words_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.add_index(apps.get_model("dashboard", "IndexedResult"), words_index())


def remove_words_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.remove_index(apps.get_model("dashboard", "IndexedResult"), words_index())


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0012_history_index_search")]

    operations = [
        migrations.AddField(
            model_name="indexedresult", name="reasons", field=models.CharField(blank=True, max_length=200)
        ),
        migrations.RunPython(copy_reasons, migrations.RunPython.noop),
        migrations.AddField(model_name="syncstate", name="version", field=models.PositiveBigIntegerField(default=0)),
        *(
            migrations.RemoveIndex(model_name="indexedresult", name=name)
            for name in ("index_newest", "index_by_status", "index_by_tool", "index_by_style", "index_by_rating")
        ),
        migrations.AddIndex(model_name="indexedresult", index=models.Index(fields=GALLERY_FIELDS, name="index_newest")),
        migrations.RunPython(add_words_index, remove_words_index),
    ]
