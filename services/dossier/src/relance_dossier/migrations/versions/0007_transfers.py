"""Transfer dossiers and their workflow read model (issue: transfers, dossier side).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from relance.sql_script import run_script

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SCHEMA = """
-- The transfer read model: one row per transfer dossier (id = dossiers.id), written by the
-- dossier API at creation and by the transfer workflow's activities afterwards (F-27..F-30).
CREATE TABLE transfers (
    id                         uuid PRIMARY KEY REFERENCES dossiers(id),
    client_id                  uuid NOT NULL REFERENCES clients(id),
    agency_code                text NOT NULL,
    -- in_window | placed | placed_acknowledged | cancellation_pending | closed
    state                      text NOT NULL DEFAULT 'in_window',
    created_by                 text NOT NULL,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    window_ends_at             timestamptz,             -- set by the workflow, which decides
    next_follow_up_date        date NOT NULL,
    opening_comment            text NOT NULL,
    placed_at                  timestamptz,
    acknowledged_at            timestamptz,
    agency_reference           text,
    agency_status              text,
    cancellation_mode          text,                    -- immediate | agency_validated
    cancellation_comment       text,
    cancellation_requested_by  text,
    cancellation_requested_at  timestamptz,
    refusal_reason             text,
    agency_answer_overdue      boolean NOT NULL DEFAULT false,
    closing_comment            text,
    closed_at                  timestamptz,
    item_ids                   uuid[] NOT NULL          -- the items handed over, kept after return
);
CREATE INDEX transfers_client ON transfers (client_id, created_at);
CREATE INDEX transfers_open_state ON transfers (state) WHERE state <> 'closed';

-- Agency payments applied to items, one row per agency payment id: a replay changes nothing.
CREATE TABLE transfer_payments (
    payment_id    text NOT NULL,
    agency_code   text NOT NULL,
    transfer_id   uuid NOT NULL REFERENCES transfers(id),
    item_id       uuid REFERENCES items(id),
    amount        numeric(18, 2) NOT NULL,
    applied       numeric(18, 2) NOT NULL,
    collected_on  date NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_code, payment_id)
);
"""

DROP = """
DROP TABLE IF EXISTS transfer_payments, transfers;
"""


def upgrade() -> None:
    run_script(SCHEMA)


def downgrade() -> None:
    run_script(DROP)
