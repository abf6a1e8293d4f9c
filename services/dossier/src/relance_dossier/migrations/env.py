"""Alembic environment of the dossier service: its history, in its own schema."""

from relance.migrations import run_env
from relance_dossier.persistence.migrations import SCHEMA

run_env(SCHEMA)
