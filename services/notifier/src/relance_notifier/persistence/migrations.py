"""The notifier's Alembic history, in its own PostgreSQL schema (one owner per table)."""

from pathlib import Path

from relance import migrations

SCHEMA = "notifier"
MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def upgrade(database_url: str) -> None:
    migrations.upgrade(database_url, MIGRATIONS_DIR, SCHEMA)
