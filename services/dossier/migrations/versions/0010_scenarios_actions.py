"""Scenarios, interventions and specific actions (issue: scenarios).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from relance_dossier.persistence.sql_script import run_script

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SCHEMA = """
SELECT 1;
"""

DROP = """
SELECT 1;
"""


def upgrade() -> None:
    run_script(SCHEMA)


def downgrade() -> None:
    run_script(DROP)
