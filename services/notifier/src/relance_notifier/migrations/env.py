"""Alembic environment of the notifier: its history, in its own schema."""

from relance.migrations import run_env
from relance_notifier.persistence.migrations import SCHEMA

run_env(SCHEMA)
