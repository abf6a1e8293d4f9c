"""Richer placements (F-41): a client's file may concern one of its items (an invoice's
copy), so that a placement carries the items with their documents; files an agency sends
back on a placement are kept with the client's files, as `agency` files; a client's
interventions are read by client for the placement's history.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03
"""

from relance.sql_script import run_script

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
ALTER TABLE attachments ADD COLUMN item_id uuid REFERENCES items(id);
CREATE INDEX attachments_item ON attachments (item_id) WHERE item_id IS NOT NULL AND deleted_at IS NULL;
ALTER TABLE attachments DROP CONSTRAINT attachments_source_check;
ALTER TABLE attachments ADD CONSTRAINT attachments_source_check
    CHECK (source IN ('upload', 'letter', 'agency'));
-- The placement's history reads all of a client's interventions, whatever their status.
CREATE INDEX interventions_client ON interventions (client_id, due_at);
""")


def downgrade() -> None:
    run_script("""
DROP INDEX IF EXISTS interventions_client;
DELETE FROM attachments WHERE source = 'agency';
ALTER TABLE attachments DROP CONSTRAINT attachments_source_check;
ALTER TABLE attachments ADD CONSTRAINT attachments_source_check CHECK (source IN ('upload', 'letter'));
DROP INDEX IF EXISTS attachments_item;
ALTER TABLE attachments DROP COLUMN item_id;
""")
