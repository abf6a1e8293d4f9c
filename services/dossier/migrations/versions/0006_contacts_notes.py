"""Contacts, notes, attachments and audit reads (issue: dossier service, contacts).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from relance_dossier.persistence.sql_script import run_script

revision = "0006"
down_revision = "0005"
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
