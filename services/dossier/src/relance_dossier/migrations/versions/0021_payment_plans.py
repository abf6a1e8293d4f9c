"""Payment plans and temporary holds (F-37).

A payment plan covers some open items of a client's active dossier with dated
instalments; while it is active its items are out of the scenario. `open_amount_at_start`
keeps what each item owed when the plan was agreed, so what was paid since is computed in
SQL against the instalments due. A hold stops all of a client's dunning until a date.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""

from relance.sql_script import run_script

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE payment_plans (
    id               uuid PRIMARY KEY,
    client_id        uuid NOT NULL REFERENCES clients(id),
    dossier_id       uuid NOT NULL REFERENCES dossiers(id),
    state            text NOT NULL DEFAULT 'active'
                     CHECK (state IN ('active', 'completed', 'broken', 'cancelled')),
    currency         char(3) NOT NULL,
    total_amount     numeric(18, 2) NOT NULL CHECK (total_amount > 0),
    comment          text,
    idempotency_key  text,
    request_hash     text,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    ended_at         timestamptz,
    end_comment      text,
    follow_up_id     uuid
);
CREATE INDEX payment_plans_client ON payment_plans (client_id, created_at);
CREATE UNIQUE INDEX payment_plans_idempotency ON payment_plans (client_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE payment_plan_items (
    plan_id               uuid NOT NULL REFERENCES payment_plans(id),
    item_id               uuid NOT NULL REFERENCES items(id),
    open_amount_at_start  numeric(18, 2) NOT NULL,
    PRIMARY KEY (plan_id, item_id)
);
CREATE INDEX payment_plan_items_item ON payment_plan_items (item_id);

CREATE TABLE payment_plan_instalments (
    plan_id     uuid NOT NULL REFERENCES payment_plans(id),
    seq         integer NOT NULL CHECK (seq >= 1),
    due_date    date NOT NULL,
    amount      numeric(18, 2) NOT NULL CHECK (amount > 0),
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'paid', 'missed')),
    checked_at  timestamptz,
    PRIMARY KEY (plan_id, seq)
);

ALTER TABLE clients
    ADD COLUMN hold_until date,
    ADD COLUMN hold_reason text,
    ADD COLUMN hold_set_by text,
    ADD COLUMN hold_set_at timestamptz;
"""


def upgrade() -> None:
    run_script(SCHEMA)


def downgrade() -> None:
    run_script("ALTER TABLE clients DROP COLUMN hold_set_at, DROP COLUMN hold_set_by,"
               " DROP COLUMN hold_reason, DROP COLUMN hold_until;"
               " DROP TABLE payment_plan_instalments; DROP TABLE payment_plan_items;"
               " DROP TABLE payment_plans;")
