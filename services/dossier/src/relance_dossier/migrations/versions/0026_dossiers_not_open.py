"""The agenda's check that an intervention's dossier is open (F-14), made against the few
dossiers that are not: a partial index of them. Joining every intervention of a
collector's agenda to its dossier by primary key was three quarters of the agenda's
time at scale (10,000 clients among a million: 89 ms, of which 67 ms were 9,000 probes
of the dossiers' key); probing this index instead took the statement to 10 ms.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03
"""

from relance.sql_script import run_script

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("CREATE INDEX dossiers_not_open ON dossiers (id) WHERE state <> 'open';\n")


def downgrade() -> None:
    run_script("DROP INDEX IF EXISTS dossiers_not_open;\n")
