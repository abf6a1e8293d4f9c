"""`relance migrate`: each service's own Alembic history, each in its own schema."""

from importlib import import_module

# The services that own tables, each with `persistence.migrations.upgrade` and `SCHEMA`.
HISTORIES = ("relance_dossier", "relance_gateway", "relance_notifier", "relance_workflow")


def upgrade_all(database_url: str) -> list[str]:
    """Bring every service's schema to its head; returns the schemas, in order."""
    schemas = []
    for package in HISTORIES:
        history = import_module(f"{package}.persistence.migrations")
        history.upgrade(database_url)
        schemas.append(history.SCHEMA)
    return schemas
