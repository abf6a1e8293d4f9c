"""A late-fee policy may charge its fees by itself (F-38): `auto_charge` on a segment's or
a client's policy (NULL inherits the segment's, then LATE_FEES_AUTO_CHARGE); the monthly
late-fee run of the workflow service charges the clients whose policy says so.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05
"""

from relance.sql_script import run_script

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("ALTER TABLE late_fee_policies ADD COLUMN auto_charge boolean;  -- NULL: inherited")


def downgrade() -> None:
    run_script("ALTER TABLE late_fee_policies DROP COLUMN auto_charge;")
