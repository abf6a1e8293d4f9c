"""ERP events (F-42): the ERP's last applied moment per client and per item, so that an
event older than the one applied for the same key changes nothing (the topic keeps one
client's events in order, but an ERP may send a correction late or a replay).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02
"""

from relance.sql_script import run_script

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
CREATE TABLE erp_versions (
    entity       text NOT NULL CHECK (entity IN ('client', 'item')),
    erp_key      text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    event_id     uuid NOT NULL,
    PRIMARY KEY (entity, erp_key)
);
""")


def downgrade() -> None:
    run_script("DROP TABLE erp_versions;")
