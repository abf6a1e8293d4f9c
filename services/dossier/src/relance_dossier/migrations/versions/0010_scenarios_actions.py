"""Scenarios, interventions and specific actions (issue: scenarios).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from relance.sql_script import run_script

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SCHEMA = """
-- Hand-made interventions (F-12): alerts and promises to pay; one document each (F-13).
ALTER TABLE interventions
    ADD COLUMN created_by text,
    ADD COLUMN promise_amount numeric(18, 2),
    ADD COLUMN promise_date date,
    ADD COLUMN outcome text,
    ADD COLUMN prepared_at timestamptz,
    ADD COLUMN document_name text,
    ADD COLUMN document_content_type text,
    ADD COLUMN document bytea,
    ADD COLUMN document_attached_at timestamptz;
CREATE INDEX interventions_client_todo ON interventions (client_id) WHERE status = 'todo';

-- F-13: once attached, a document can be read but never replaced or removed, whatever
-- path the change comes from.
CREATE FUNCTION interventions_document_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.document IS NOT NULL THEN
            RAISE EXCEPTION 'an intervention with an attached document cannot be deleted';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.document IS NOT NULL AND (NEW.document IS DISTINCT FROM OLD.document
        OR NEW.document_name IS DISTINCT FROM OLD.document_name) THEN
        RAISE EXCEPTION 'the document of an intervention cannot be replaced';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER interventions_document_frozen BEFORE UPDATE OR DELETE ON interventions
    FOR EACH ROW EXECUTE FUNCTION interventions_document_frozen();

-- Specific actions (F-15 .. F-20): outside the scenario, on selected items of one client.
CREATE TABLE specific_actions (
    id             uuid PRIMARY KEY,
    client_id      uuid NOT NULL REFERENCES clients(id),
    dossier_id     uuid NOT NULL REFERENCES dossiers(id),
    action_type    text NOT NULL,
    mode           text NOT NULL,
    priority       integer NOT NULL DEFAULT 1,
    template_code  text,
    subject        text,
    body           text,
    label          text,
    due_at         timestamptz NOT NULL,
    status         text NOT NULL DEFAULT 'scheduled' CHECK (status IN
                   ('scheduled', 'todo', 'awaiting_confirmation', 'sent', 'done', 'deleted')),
    comment        text,
    copied_from    text,
    communication_id uuid,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    completed_at   timestamptz
);
CREATE INDEX specific_actions_client ON specific_actions (client_id);
CREATE INDEX specific_actions_pending ON specific_actions (due_at)
    WHERE status IN ('scheduled', 'todo', 'awaiting_confirmation');

CREATE TABLE specific_action_items (
    action_id  uuid NOT NULL REFERENCES specific_actions(id),
    item_id    uuid NOT NULL REFERENCES items(id),
    PRIMARY KEY (action_id, item_id)
);
CREATE INDEX specific_action_items_item ON specific_action_items (item_id);
"""

DROP = """
DROP TABLE IF EXISTS specific_action_items, specific_actions;
DROP TRIGGER IF EXISTS interventions_document_frozen ON interventions;
DROP FUNCTION IF EXISTS interventions_document_frozen();
DROP INDEX IF EXISTS interventions_client_todo;
ALTER TABLE interventions
    DROP COLUMN IF EXISTS created_by, DROP COLUMN IF EXISTS promise_amount,
    DROP COLUMN IF EXISTS promise_date, DROP COLUMN IF EXISTS outcome,
    DROP COLUMN IF EXISTS prepared_at, DROP COLUMN IF EXISTS document_name,
    DROP COLUMN IF EXISTS document_content_type, DROP COLUMN IF EXISTS document,
    DROP COLUMN IF EXISTS document_attached_at;
"""


def upgrade() -> None:
    run_script(SCHEMA)


def downgrade() -> None:
    run_script(DROP)
