"""The outbox's insert trigger names its schema in the notification, so the relay wakes
only the loops of that schema's outbox (issue: performance).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from relance.migrations import DROP_OUTBOX_NOTIFY_NAMES_SCHEMA, OUTBOX_NOTIFY_NAMES_SCHEMA
from relance.sql_script import run_script

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(OUTBOX_NOTIFY_NAMES_SCHEMA)


def downgrade() -> None:
    run_script(DROP_OUTBOX_NOTIFY_NAMES_SCHEMA)
