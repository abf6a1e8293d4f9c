"""Foundation schema: clients, items, dossiers, contacts, scenarios, templates,
interventions, communications (the client's trace), audit, outbox, processed events.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from relance.sql_script import run_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE collectors (
    id          uuid PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    email       text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE clients (
    id            uuid PRIMARY KEY,
    code          text NOT NULL UNIQUE,           -- the ERP key (F-1)
    name          text NOT NULL,
    country       text,
    segment       text,
    category      text,
    tags          text[] NOT NULL DEFAULT '{}',
    risk          text,
    collector_id  uuid REFERENCES collectors(id),
    scenario_code text,
    locale        text NOT NULL DEFAULT 'fr',
    version       integer NOT NULL DEFAULT 1,     -- optimistic concurrency
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- A client's active dossier ("En-cours") and its transfer dossiers (F-2, F-27).
CREATE TABLE dossiers (
    id           uuid PRIMARY KEY,
    client_id    uuid NOT NULL REFERENCES clients(id),
    kind         text NOT NULL CHECK (kind IN ('active', 'transfer')),
    state        text NOT NULL DEFAULT 'open',
    agency_code  text,
    opened_at    timestamptz NOT NULL DEFAULT now(),
    closed_at    timestamptz
);
CREATE UNIQUE INDEX dossiers_one_active_per_client ON dossiers (client_id) WHERE kind = 'active';

CREATE TABLE items (
    id              uuid PRIMARY KEY,
    client_id       uuid NOT NULL REFERENCES clients(id),
    dossier_id      uuid NOT NULL REFERENCES dossiers(id),  -- exactly one holder (F-2)
    kind            text NOT NULL CHECK (kind IN ('invoice', 'credit_note', 'payment')),
    number          text NOT NULL,
    issue_date      date,
    due_date        date NOT NULL,
    amount          numeric(18, 2) NOT NULL,
    open_amount     numeric(18, 2) NOT NULL,
    currency        char(3) NOT NULL DEFAULT 'EUR',
    status          text,
    status_comment  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, kind, number)
);
CREATE INDEX items_dossier ON items (dossier_id);

CREATE TABLE contacts (
    id           uuid PRIMARY KEY,
    client_id    uuid NOT NULL REFERENCES clients(id),
    name         text NOT NULL,
    observation  text,                          -- the contact's role (F-22)
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_client ON contacts (client_id);

-- Channels: pending / validated / invalid, and at most one default per type (F-21).
CREATE TABLE contact_channels (
    id          uuid PRIMARY KEY,
    contact_id  uuid NOT NULL REFERENCES contacts(id),
    client_id   uuid NOT NULL REFERENCES clients(id),
    type        text NOT NULL CHECK (type IN ('postal', 'email', 'phone')),
    value       text NOT NULL,
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'validated', 'invalid')),
    is_default  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT is_default OR state = 'validated')
);
CREATE UNIQUE INDEX contact_channels_one_default ON contact_channels (client_id, type) WHERE is_default;

CREATE TABLE templates (
    code        text PRIMARY KEY,
    channel     text NOT NULL,
    locale      text NOT NULL DEFAULT 'fr',
    subject     text NOT NULL DEFAULT '',
    body        text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Scenarios are versioned: a running dossier keeps the version it started with (F-9).
CREATE TABLE scenarios (
    code        text NOT NULL,
    version     integer NOT NULL,
    name        text NOT NULL,
    steps       jsonb NOT NULL,
    is_default  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (code, version)
);

CREATE TABLE interventions (
    id             uuid PRIMARY KEY,
    dossier_id     uuid NOT NULL REFERENCES dossiers(id),
    client_id      uuid NOT NULL REFERENCES clients(id),
    origin         text NOT NULL DEFAULT 'scenario',
    scenario_code  text,
    scenario_version integer,
    step_index     integer,
    action_type    text NOT NULL,
    mode           text NOT NULL,
    priority       integer NOT NULL DEFAULT 0,
    template_code  text,
    due_at         timestamptz NOT NULL,
    status         text NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'done', 'skipped')),
    comment        text,
    details        jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    completed_at   timestamptz
);
CREATE INDEX interventions_dossier ON interventions (dossier_id);
CREATE INDEX interventions_due ON interventions (due_at) WHERE status = 'todo';

-- Every communication with its rendered content: the client's trace (F-23, F-32).
CREATE TABLE communications (
    id               uuid PRIMARY KEY,
    client_id        uuid NOT NULL REFERENCES clients(id),
    dossier_id       uuid,
    intervention_id  uuid,
    channel          text NOT NULL,
    template_code    text,
    recipient        text,
    subject          text,
    body             text,
    status           text NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz
);
CREATE INDEX communications_client ON communications (client_id, created_at);

-- Who changed what, when, and why (F-33).
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    client_id   uuid,
    actor       text NOT NULL,
    action      text NOT NULL,
    entity      text NOT NULL,
    entity_id   text,
    comment     text,
    details     jsonb NOT NULL DEFAULT '{}',
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_client ON audit_log (client_id, at);

-- Transactional outbox, published by the relay (see relance.outbox).
CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    event_id      uuid NOT NULL UNIQUE,
    topic         text NOT NULL,
    key           text NOT NULL,
    event_type    text NOT NULL,
    event         jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at  timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('relance_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_inserted AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Idempotent consumers: one row per (consumer, event), written with the effect.
CREATE TABLE processed_events (
    consumer      text NOT NULL,
    event_id      uuid NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
"""

DROP = """
DROP TABLE IF EXISTS processed_events, outbox, audit_log, communications, interventions,
    scenarios, templates, contact_channels, contacts, items, dossiers, clients, collectors CASCADE;
DROP FUNCTION IF EXISTS outbox_notify();
"""


def upgrade() -> None:
    run_script(SCHEMA)


def downgrade() -> None:
    run_script(DROP)
