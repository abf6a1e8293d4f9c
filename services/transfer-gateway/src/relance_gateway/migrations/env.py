"""Alembic environment of the transfer gateway: its history, in its own schema."""

from relance.migrations import run_env
from relance_gateway.persistence.migrations import SCHEMA

run_env(SCHEMA)
