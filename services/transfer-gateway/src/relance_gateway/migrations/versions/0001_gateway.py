"""Transfer gateway: agencies, credentials, webhook deliveries, idempotency keys, and the
gateway's own outbox, processed events and audit trail (F-31, F-33).

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from relance.migrations import DROP_MESSAGING_TABLES, MESSAGING_TABLES
from relance.sql_script import run_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = """
-- Collection agencies integrating through the transfer gateway (F-31). The code is the
-- agency's key across the platform (transfer dossiers carry it as agency_code).
CREATE TABLE gateway_agencies (
    id              uuid PRIMARY KEY,
    code            text NOT NULL UNIQUE,
    name            text NOT NULL,
    webhook_url     text,                       -- NULL: a pull-only agency
    active          boolean NOT NULL DEFAULT true,
    api_key_sha256  text NOT NULL UNIQUE,       -- only the key's hash is kept
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- HMAC signing secrets; two stay active during a rotation (revoked_at IS NULL).
CREATE TABLE gateway_agency_secrets (
    id          uuid PRIMARY KEY,
    agency_id   uuid NOT NULL REFERENCES gateway_agencies(id),
    secret      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX gateway_agency_secrets_active ON gateway_agency_secrets (agency_id) WHERE revoked_at IS NULL;

-- What was placed with which agency, and where it stands on the agency's side.
CREATE TABLE gateway_placements (
    transfer_id      uuid PRIMARY KEY,
    agency_code      text NOT NULL,
    client_id        uuid NOT NULL,
    client_code      text NOT NULL,
    status           text NOT NULL,  -- placed | acknowledged | cancellation_requested | cancelled
    agency_reference text,
    acknowledged_at  timestamptz,
    agency_status    text,
    cancellation_comment text,
    refusal_reason   text,
    placement        jsonb NOT NULL,  -- the TransferPlaced payload, as the agency receives it
    placed_at        timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gateway_placements_agency ON gateway_placements (agency_code, placed_at);

-- Messages for an agency (placements, cancellation requests): pulled, or pushed by webhook.
CREATE TABLE gateway_messages (
    id               uuid PRIMARY KEY,  -- the transfer event's id: one message per event
    agency_code      text NOT NULL,
    transfer_id      uuid NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('placement', 'cancellation_request')),
    body             jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    acknowledged_at  timestamptz,       -- pull acknowledgement or a 2xx webhook answer
    acknowledged_by  text
);
CREATE INDEX gateway_messages_new ON gateway_messages (agency_code, created_at) WHERE acknowledged_at IS NULL;

-- Webhook deliveries: retried with backoff, dead after N attempts, replayable.
CREATE TABLE gateway_deliveries (
    id                uuid PRIMARY KEY,
    message_id        uuid NOT NULL REFERENCES gateway_messages(id),
    agency_code       text NOT NULL,
    url               text NOT NULL,
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts          integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    last_status_code  integer,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    delivered_at      timestamptz,
    dead_at           timestamptz
);
CREATE INDEX gateway_deliveries_due ON gateway_deliveries (next_attempt_at) WHERE status = 'pending';

-- Idempotency-Key per agency: the first answer, replayed verbatim for the same body.
CREATE TABLE gateway_idempotency_keys (
    agency_code   text NOT NULL,
    key           text NOT NULL,
    request_hash  text NOT NULL,
    method        text NOT NULL,
    path          text NOT NULL,
    status_code   integer NOT NULL,
    response      text NOT NULL,     -- the exact bytes answered, replayed verbatim
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_code, key)
);

-- Payments reported by agencies, unique by the agency's own payment id.
CREATE TABLE gateway_payments (
    agency_code   text NOT NULL,
    payment_id    text NOT NULL,
    transfer_id   uuid NOT NULL,
    item_number   text NOT NULL,
    amount        numeric(18, 2) NOT NULL,
    currency      char(3) NOT NULL,
    collected_on  date NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_code, payment_id)
);
"""

DROP = """
DROP TABLE IF EXISTS gateway_payments, gateway_idempotency_keys, gateway_deliveries,
    gateway_messages, gateway_placements, gateway_agency_secrets, gateway_agencies CASCADE;
"""


def upgrade() -> None:
    run_script(MESSAGING_TABLES)
    run_script(SCHEMA)


def downgrade() -> None:
    run_script(DROP)
    run_script(DROP_MESSAGING_TABLES)
