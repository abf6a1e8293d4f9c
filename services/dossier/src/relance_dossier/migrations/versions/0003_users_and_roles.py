"""Users with roles, authenticated by bearer API tokens (F-4, F-33).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from relance.sql_script import run_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SCHEMA = """
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    name          text NOT NULL,
    email         text,
    role          text NOT NULL CHECK (role IN ('admin', 'manager', 'collector', 'read_only')),
    collector_id  uuid REFERENCES collectors(id),   -- F-4: a user linked to a collector
    token_sha256  text NOT NULL UNIQUE,             -- only the token's hash is stored
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);
"""


def upgrade() -> None:
    run_script(SCHEMA)


def downgrade() -> None:
    run_script("DROP TABLE users;")
