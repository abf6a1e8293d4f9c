"""The outbox stores the W3C trace context of the change that wrote each row; the relay
sends it as Kafka headers (issue: every request end to end).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from relance.migrations import DROP_OUTBOX_TRACE_CONTEXT, OUTBOX_TRACE_CONTEXT
from relance.sql_script import run_script

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(OUTBOX_TRACE_CONTEXT)


def downgrade() -> None:
    run_script(DROP_OUTBOX_TRACE_CONTEXT)
