"""Notifier channels and delivery tracking (issue: notifier).

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-23
"""

from relance.sql_script import run_script

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

SCHEMA = """
-- Delivery tracking on the client's trace (F-23, F-32): the provider's message id (SMS)
-- and the letter's PDF document.
ALTER TABLE communications ADD COLUMN IF NOT EXISTS provider_ref text;
ALTER TABLE communications ADD COLUMN IF NOT EXISTS attachment_id uuid;
-- The provider's final delivery report (SMS callback): delivered | undelivered.
ALTER TABLE communications ADD COLUMN IF NOT EXISTS delivery_status text
    CHECK (delivery_status IN ('delivered', 'undelivered'));
ALTER TABLE communications ADD COLUMN IF NOT EXISTS delivery_updated_at timestamptz;
-- Letters are stored in `attachments` (migration 0006) with source 'letter'.

"""

DROP = """
ALTER TABLE communications DROP COLUMN IF EXISTS delivery_updated_at;
ALTER TABLE communications DROP COLUMN IF EXISTS delivery_status;
ALTER TABLE communications DROP COLUMN IF EXISTS attachment_id;
ALTER TABLE communications DROP COLUMN IF EXISTS provider_ref;
"""


def upgrade() -> None:
    run_script(SCHEMA)


def downgrade() -> None:
    run_script(DROP)
