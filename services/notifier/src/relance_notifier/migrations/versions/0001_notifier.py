"""Notifier: its send records, and its own outbox, processed events and audit trail
(F-23, F-32).

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from relance.migrations import DROP_MESSAGING_TABLES, MESSAGING_TABLES
from relance.sql_script import run_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = """
-- One row per communication the notifier was asked to send: what it rendered, to whom,
-- how each attempt went and what the provider reported. The client's trace is the
-- dossier's (fed by communication.events); this is the notifier's own record, used to
-- skip redelivered commands and to apply delivery reports. `client_id` names the
-- dossier's client: no foreign key across owners.
CREATE TABLE communications (
    id                   uuid PRIMARY KEY,
    client_id            uuid NOT NULL,
    dossier_id           uuid,
    intervention_id      uuid,
    channel              text NOT NULL,
    template_code        text,
    recipient            text,
    subject              text,
    body                 text,
    status               text NOT NULL,
    attempts             integer NOT NULL DEFAULT 0,
    error                text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    sent_at              timestamptz,
    provider_ref         text,
    attachment_id        uuid,
    delivery_status      text CHECK (delivery_status IN ('delivered', 'undelivered')),
    delivery_updated_at  timestamptz
);
CREATE INDEX communications_client ON communications (client_id, created_at);
"""

DROP = """
DROP TABLE IF EXISTS communications CASCADE;
"""


def upgrade() -> None:
    run_script(MESSAGING_TABLES)
    run_script(SCHEMA)


def downgrade() -> None:
    run_script(DROP)
    run_script(DROP_MESSAGING_TABLES)
