"""Indexes the scale run showed missing (issue 11): with a million clients, a client's
dossiers (the card, F-1) and a transfer's history in the audit trail (the transfer's
page, F-29) were each read by a scan of the whole table.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from relance.sql_script import run_script

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("CREATE INDEX dossiers_client ON dossiers (client_id);"
               " CREATE INDEX audit_log_entity ON audit_log (entity, entity_id, at);")


def downgrade() -> None:
    run_script("DROP INDEX IF EXISTS audit_log_entity; DROP INDEX IF EXISTS dossiers_client;")
