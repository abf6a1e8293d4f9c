"""KPI snapshots (F-36 at scale): the dashboard's figures are kept per filter set with the
database snapshot they were computed in, and every transaction that writes a table the
KPIs read leaves its id in `kpi_changes` (a statement trigger). A snapshot is fresh while
every change it lists is visible in its database snapshot: exact under MVCC, with no
counter for writers to contend on. Stale ones are recomputed by the dossier service's
refresher and served meanwhile, flagged; the refresher recomputes a dashboard at most once
per ten times its computing time, so that a stream of changes never keeps it busy.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03
"""

from relance.sql_script import run_script

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

# What the KPIs read (persistence/kpis.py).
TABLES = ("clients", "collectors", "items", "interventions", "specific_actions", "transfers",
          "transfer_payments", "import_payments")


def upgrade() -> None:
    run_script("""
CREATE TABLE kpi_changes (
    txid  xid8 PRIMARY KEY,
    at    timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION kpi_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO kpi_changes (txid) VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TABLE kpi_snapshots (
    key          text PRIMARY KEY,
    params       jsonb NOT NULL,
    snapshot     pg_snapshot NOT NULL,
    computed_at  timestamptz NOT NULL,
    compute_seconds double precision NOT NULL,  -- what computing them took
    read_at      timestamptz NOT NULL,
    result       jsonb NOT NULL
);
CREATE INDEX kpi_snapshots_read_at ON kpi_snapshots (read_at);
""" + "".join(f"""
CREATE TRIGGER {table}_kpi_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION kpi_note_change();
""" for table in TABLES))


def downgrade() -> None:
    run_script("".join(f"DROP TRIGGER IF EXISTS {table}_kpi_change ON {table};\n" for table in TABLES)
               + "DROP TABLE IF EXISTS kpi_snapshots, kpi_changes;\n"
               "DROP FUNCTION IF EXISTS kpi_note_change();\n")
