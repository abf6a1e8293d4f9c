"""The outbox parks the rows the broker keeps refusing, and published rows and processed
event ids are pruned after the retention (issue: nothing stuck, nothing lost).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from relance.migrations import DROP_OUTBOX_PARKING, OUTBOX_PARKING
from relance.sql_script import run_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(OUTBOX_PARKING)


def downgrade() -> None:
    run_script(DROP_OUTBOX_PARKING)
