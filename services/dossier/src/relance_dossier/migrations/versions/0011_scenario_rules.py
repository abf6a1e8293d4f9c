"""Scenario rules: ordered criteria → scenario, for clients with no explicit scenario (F-9).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""

from relance.sql_script import run_script

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE scenario_rules (
    position       integer PRIMARY KEY CHECK (position >= 1),
    criteria       jsonb NOT NULL,
    scenario_code  text NOT NULL,
    updated_by     text NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
"""

DROP = """
DROP TABLE scenario_rules;
"""


def upgrade() -> None:
    run_script(SCHEMA)


def downgrade() -> None:
    run_script(DROP)
