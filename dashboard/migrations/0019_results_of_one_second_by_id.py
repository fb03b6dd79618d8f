"""Results made in the same second (the upstream's times have no finer grain) are listed
by their upstream id, highest first, as the upstream lists them: the gallery's order and
its index no longer fall back on the local row id, which followed the order the sync
happened to meet them in. On SQLite the search's copy of that index (0013's
`index_words`) follows.

Only indexes change, and the previous release's queries read either one: safe to apply
while it still serves."""

from django.db import migrations, models

WORDS_INDEX = "index_words"
BY_ROW_ID = ["in_trash", "-sort_at", "-id", "status", "tool", "style_id", "rating", "reasons", "created_at"]
BY_UPSTREAM_ID = [
    "in_trash",
    "-sort_at",
    "-history_item_id",
    "status",
    "tool",
    "style_id",
    "rating",
    "reasons",
    "created_at",
]


def words_index(fields):
    return models.Index(fields=[*fields, "search_text"], name=WORDS_INDEX)


def swap_words_index(old, new):
    def swap(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            model = apps.get_model("dashboard", "IndexedResult")
            schema_editor.remove_index(model, words_index(old))
            schema_editor.add_index(model, words_index(new))

    return swap


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0018_task_id_of_any_backend")]

    operations = [
        migrations.AlterModelOptions(name="indexedresult", options={"ordering": ["-sort_at", "-history_item_id"]}),
        migrations.RemoveIndex(model_name="indexedresult", name="index_newest"),
        migrations.AddIndex(model_name="indexedresult", index=models.Index(fields=BY_UPSTREAM_ID, name="index_newest")),
        migrations.RunPython(swap_words_index(BY_ROW_ID, BY_UPSTREAM_ID), swap_words_index(BY_UPSTREAM_ID, BY_ROW_ID)),
    ]
