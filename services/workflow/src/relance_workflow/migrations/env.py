"""Alembic environment of the workflow service: its history, in its own schema."""

from relance.migrations import run_env
from relance_workflow.persistence.migrations import SCHEMA

run_env(SCHEMA)
