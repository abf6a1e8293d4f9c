"""Collection KPIs (F-36): the day an item took its status, so open disputes have an age,
and the indexes the KPIs read the period's promises, payments and actions by.

The column is kept by a trigger in the same statement as the item's write, whatever path
the status comes from (the API, an import, a workflow activity).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from relance.sql_script import run_script

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

SCHEMA = """
ALTER TABLE items ADD COLUMN status_since date;
UPDATE items SET status_since = updated_at::date WHERE status IS NOT NULL;

CREATE FUNCTION items_status_since() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS NULL THEN
        NEW.status_since := NULL;
    ELSIF TG_OP = 'INSERT' THEN
        NEW.status_since := COALESCE(NEW.status_since, current_date);
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        NEW.status_since := current_date;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER items_status_since BEFORE INSERT OR UPDATE OF status ON items
    FOR EACH ROW EXECUTE FUNCTION items_status_since();

CREATE INDEX items_in_dispute ON items (client_id) WHERE status IN ('dispute', 'litigation');
CREATE INDEX interventions_promises ON interventions (promise_date) WHERE origin = 'promise';
CREATE INDEX interventions_due_all ON interventions (due_at);
CREATE INDEX import_payments_paid_on ON import_payments (paid_on);
CREATE INDEX transfer_payments_collected_on ON transfer_payments (collected_on);
"""

DROP = """
DROP INDEX IF EXISTS transfer_payments_collected_on, import_payments_paid_on,
    interventions_due_all, interventions_promises, items_in_dispute;
DROP TRIGGER IF EXISTS items_status_since ON items;
DROP FUNCTION IF EXISTS items_status_since();
ALTER TABLE items DROP COLUMN IF EXISTS status_since;
"""


def upgrade() -> None:
    run_script(SCHEMA)


def downgrade() -> None:
    run_script(DROP)
