"""Documents an agency sends back on a placement (F-41): kept here, where the agency's
request lands, in the transaction of its message; the dossier service copies them into
the client's files through the internal API.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from relance.sql_script import run_script

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
CREATE TABLE gateway_agency_documents (
    id            uuid PRIMARY KEY,
    agency_code   text NOT NULL,
    transfer_id   uuid NOT NULL,
    message_id    uuid NOT NULL,
    file_name     text NOT NULL,
    content_type  text NOT NULL,
    size_bytes    integer NOT NULL,
    sha256        text NOT NULL,
    content       bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gateway_agency_documents_transfer ON gateway_agency_documents (transfer_id);
""")


def downgrade() -> None:
    run_script("DROP TABLE IF EXISTS gateway_agency_documents;")
