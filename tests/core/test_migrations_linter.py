"""The check `make lint` makes on every new migration (scripts/lint-migrations, README
"Upgrading"): a migration the previous release cannot run beside fails it, an expanding
one passes. An app of its own, made here with migrations of each kind, is linted by the
same script on its own private PostgreSQL; and the models have no change that lacks its
migration."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]

CREATE_SHEET = """
migrations.CreateModel(
    name="Sheet",
    fields=[
        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
        ("title", models.CharField(max_length=80)),
    ],
)
"""

# The app's migrations, in order: name -> operation. Each one after the first changes the
# table the previous release's code already writes to.
MIGRATIONS = {
    "0001_initial": CREATE_SHEET,
    # Expand: the old code leaves the column out of its inserts, and the database fills it.
    "0002_add_nullable": 'migrations.AddField("sheet", "note", models.CharField(max_length=80, null=True))',
    "0003_add_with_db_default": (
        'migrations.AddField("sheet", "kind", models.CharField(max_length=16, default="", db_default=""))'
    ),
    # Incompatible: the old code's inserts leave "owner" out, and nothing fills it...
    "0004_add_required": 'migrations.AddField("sheet", "owner", models.CharField(max_length=80, default=""))',
    # ...and the old code's queries name a column that is gone.
    "0005_rename": 'migrations.RenameField("sheet", "title", "heading")',
}


@pytest.fixture(scope="module")
def app_with_migrations(tmp_path_factory) -> Path:
    """A package `lintcheck` with the migrations above, and settings that install it."""
    root = tmp_path_factory.mktemp("lintcheck")
    migrations = root / "lintcheck" / "migrations"
    migrations.mkdir(parents=True)
    (root / "lintcheck" / "__init__.py").write_text("")
    (migrations / "__init__.py").write_text("")
    previous = None
    for name, operation in MIGRATIONS.items():
        dependencies = f"[('lintcheck', '{previous}')]" if previous else "[]"
        (migrations / f"{name}.py").write_text(
            "from django.db import migrations, models\n\n\n"
            "class Migration(migrations.Migration):\n"
            f"    initial = {previous is None}\n"
            f"    dependencies = {dependencies}\n"
            f"    operations = [\n{textwrap.indent(operation.strip(), ' ' * 8)}\n    ]\n"
        )
        previous = name
    (root / "lintcheck_settings.py").write_text(
        "from tests.settings import *  # noqa: F403\n\nINSTALLED_APPS = [*INSTALLED_APPS, 'lintcheck']  # noqa: F405\n"
    )
    return root


def lint(app_root: Path, *options: str) -> subprocess.CompletedProcess:
    """scripts/lint-migrations, as `make lint` runs it, on the `lintcheck` app only (the
    linter's messages for every migration shown, also those that pass)."""
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "DATABASE_"))},
        "MIGRATION_LINT_SETTINGS": "lintcheck_settings",
        "PYTHONPATH": os.pathsep.join([str(app_root), str(ROOT)]),
    }
    return subprocess.run(
        [sys.executable, "scripts/lint-migrations", "--include-apps", "lintcheck", "--quiet", "ignore", *options],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )


def verdicts(output: str) -> dict[str, str]:
    """{"0002_add_nullable": "OK", ...} from lines like "(lintcheck, 0002_add_nullable)... OK"."""
    found = {}
    for line in output.splitlines():
        if line.startswith("(lintcheck, "):
            migration, _, verdict = line.removeprefix("(lintcheck, ").partition(")... ")
            found[migration] = verdict.strip()
    return found


def test_a_required_column_without_a_database_default_or_a_rename_fails_the_lint(app_with_migrations):
    result = lint(app_with_migrations)

    assert result.returncode == 1, result.stdout + result.stderr
    assert verdicts(result.stdout) == {
        "0001_initial": "OK",
        "0002_add_nullable": "OK",
        "0003_add_with_db_default": "OK",
        "0004_add_required": "ERR",
        "0005_rename": "ERR",
    }, result.stdout
    assert "NOT NULL constraint on columns" in result.stdout
    assert "RENAMING columns (table: lintcheck_sheet, column: title)" in result.stdout


def test_migrations_that_only_expand_pass_the_lint(app_with_migrations):
    result = lint(
        app_with_migrations, "--include-name", "0001_initial", "0002_add_nullable", "0003_add_with_db_default"
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert set(verdicts(result.stdout).values()) == {"OK"}, result.stdout


@pytest.mark.django_db
def test_every_change_to_the_models_has_its_migration():
    # makemigrations --check exits with status 1 (SystemExit) when a migration is missing.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
