"""The client's trace is the dossier's alone (F-23): the notifier sends and reports its
outcomes as communication.events; the rendered body in them is capped, so the trace
says when it was cut.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from relance.sql_script import run_script

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SCHEMA = """
ALTER TABLE communications ADD COLUMN IF NOT EXISTS body_truncated boolean NOT NULL DEFAULT false;
"""

DROP = """
ALTER TABLE communications DROP COLUMN IF EXISTS body_truncated;
"""


def upgrade() -> None:
    run_script(SCHEMA)


def downgrade() -> None:
    run_script(DROP)
