"""A collector's team: with CLIENT_VISIBILITY=team a collector opens the clients of the
collectors of their team (F-4; issue 10, who sees what).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from relance.sql_script import run_script

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("ALTER TABLE collectors ADD COLUMN team text;"
               " CREATE INDEX collectors_team ON collectors (team) WHERE team IS NOT NULL;")


def downgrade() -> None:
    run_script("DROP INDEX IF EXISTS collectors_team; ALTER TABLE collectors DROP COLUMN team;")
