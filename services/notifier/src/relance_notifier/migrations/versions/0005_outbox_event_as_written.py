"""The outbox keeps each event as its writer serialised it (`json` in place of `jsonb`):
no parse on insert, no serialisation on claim (issue: performance).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from relance.migrations import DROP_OUTBOX_EVENT_AS_WRITTEN, OUTBOX_EVENT_AS_WRITTEN
from relance.sql_script import run_script

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(OUTBOX_EVENT_AS_WRITTEN)


def downgrade() -> None:
    run_script(DROP_OUTBOX_EVENT_AS_WRITTEN)
