"""ERP import: staging for bulk upserts and per-row import reports (issue: dossier service, import).

The staging tables themselves are temporary (created per import, dropped at commit);
what stays is the report of every import run and the payments already applied, so that a
payment file imported twice lowers the open amounts once (F-3).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from relance.sql_script import run_script

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCHEMA = """
-- One row per import run (F-3): what was read, what changed, and the rejected rows.
CREATE TABLE import_runs (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('clients', 'items', 'payments')),
    format       text NOT NULL CHECK (format IN ('csv', 'json')),
    source       text,                              -- the file name, when there is one
    actor        text NOT NULL,
    rows_read    integer NOT NULL,
    inserted     integer NOT NULL,
    updated      integer NOT NULL,
    unchanged    integer NOT NULL,
    error_count  integer NOT NULL,
    errors       jsonb NOT NULL DEFAULT '[]',       -- [{row, field, reason}], capped
    details      jsonb NOT NULL DEFAULT '{}',
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX import_runs_started ON import_runs (started_at);

-- Payments applied by imports, by their ERP reference: a reference is applied once.
CREATE TABLE import_payments (
    reference       text PRIMARY KEY,
    client_id       uuid NOT NULL REFERENCES clients(id),
    item_id         uuid NOT NULL REFERENCES items(id),
    amount          numeric(18, 2) NOT NULL,
    applied_amount  numeric(18, 2) NOT NULL,   -- what the open amount could still absorb
    paid_on         date NOT NULL,
    import_id       uuid NOT NULL REFERENCES import_runs(id),
    applied_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX import_payments_item ON import_payments (item_id);
"""

DROP = """
DROP TABLE IF EXISTS import_payments, import_runs;
"""


def upgrade() -> None:
    run_script(SCHEMA)


def downgrade() -> None:
    run_script(DROP)
