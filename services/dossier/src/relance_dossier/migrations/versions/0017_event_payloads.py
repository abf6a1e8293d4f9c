"""The payloads of events too large for a message, kept by the dossier and read back by
their consumers (claim checks, relance.claims; issue: oversized events).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from relance.claims import DROP_EVENT_PAYLOADS_TABLE, EVENT_PAYLOADS_TABLE
from relance.sql_script import run_script

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(EVENT_PAYLOADS_TABLE)


def downgrade() -> None:
    run_script(DROP_EVENT_PAYLOADS_TABLE)
