from django.db import migrations


class Migration(migrations.Migration):
    """The dashboard calls the upstream's generation types "styles", everywhere."""

    dependencies = [("dashboard", "0001_initial")]

    operations = [
        migrations.RenameField(model_name="job", old_name="generation_type", new_name="style_id"),
        migrations.RenameField(model_name="job", old_name="generation_type_title", new_name="style_title"),
    ]
