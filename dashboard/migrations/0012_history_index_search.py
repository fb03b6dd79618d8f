"""The index's full-text search on PostgreSQL: a GIN index over the words of each result
(gallery.history.searched asks `to_tsvector('simple', search_text)` the same way).
SQLite searches by plain containment and gets no such index."""

from django.db import migrations

INDEX_NAME = "index_search"


def search_index(apps):
    from django.contrib.postgres.indexes import GinIndex  # PostgreSQL only (needs psycopg)
    from django.contrib.postgres.search import SearchVector

    return GinIndex(SearchVector("search_text", config="simple"), name=INDEX_NAME)


def add_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("dashboard", "IndexedResult"), search_index(apps))


def remove_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("dashboard", "IndexedResult"), search_index(apps))


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0011_history_index")]

    operations = [migrations.RunPython(add_search_index, remove_search_index)]
