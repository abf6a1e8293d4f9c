"""A consumer parks a message it keeps failing on, or cannot read, as a dead letter and
moves on (issue: nothing stuck, nothing lost).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from relance.migrations import DEAD_LETTERS_TABLE, DROP_DEAD_LETTERS_TABLE
from relance.sql_script import run_script

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(DEAD_LETTERS_TABLE)


def downgrade() -> None:
    run_script(DROP_DEAD_LETTERS_TABLE)
