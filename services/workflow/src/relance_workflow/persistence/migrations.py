"""The workflow service's Alembic history, in its own PostgreSQL schema: the workflows
keep their state in Temporal; the schema holds only the signal bridge's dead letters."""

from pathlib import Path

from relance import migrations

SCHEMA = "workflow"
MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def upgrade(database_url: str) -> None:
    migrations.upgrade(database_url, MIGRATIONS_DIR, SCHEMA)
