"""Collectors and assignment: rules, default collector, saved searches (issue: dossier service, assignment).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from relance.sql_script import run_script

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCHEMA = """
-- F-6: ordered rules (criteria -> collector); the lowest position that matches wins.
CREATE TABLE assignment_rules (
    id            uuid PRIMARY KEY,
    position      integer NOT NULL UNIQUE,
    criteria      jsonb NOT NULL,
    collector_id  uuid NOT NULL REFERENCES collectors(id),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- F-6: the default collector, for new clients no rule matches (one row at most).
CREATE TABLE assignment_settings (
    singleton             boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    default_collector_id  uuid REFERENCES collectors(id),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- F-5: "my searches", saved by name per user (criteria and/or a pasted list of codes).
CREATE TABLE saved_searches (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users(id),
    name        text NOT NULL,
    criteria    jsonb NOT NULL DEFAULT '{}',
    codes       text[],
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, name)
);

-- Agendas, scoping and the F-7 alert read clients by collector.
CREATE INDEX clients_collector ON clients (collector_id);
"""

DROP = """
DROP INDEX IF EXISTS clients_collector;
DROP TABLE IF EXISTS saved_searches, assignment_settings, assignment_rules;
"""


def upgrade() -> None:
    run_script(SCHEMA)


def downgrade() -> None:
    run_script(DROP)
