"""Contacts, notes, attachments and audit reads (issue: dossier service, contacts).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from relance.sql_script import run_script

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMA = """
-- Contacts and channels are edited after creation (F-22): keep when.
ALTER TABLE contacts ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE contact_channels ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX contact_channels_contact ON contact_channels (contact_id);

-- The client's note pad, readable by every collector who sees the client (F-25).
CREATE TABLE client_notes (
    id          uuid PRIMARY KEY,
    client_id   uuid NOT NULL REFERENCES clients(id),
    text        text NOT NULL,
    author      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX client_notes_client ON client_notes (client_id, created_at);

-- Files attached to the client (F-26): uploads, and letters the notifier generated.
-- The bytes live under the data dir at `storage_path`; a delete is soft.
CREATE TABLE attachments (
    id            uuid PRIMARY KEY,
    client_id     uuid NOT NULL REFERENCES clients(id),
    filename      text NOT NULL,
    content_type  text NOT NULL,
    size_bytes    bigint NOT NULL,
    sha256        text NOT NULL,
    description   text,
    storage_path  text NOT NULL,
    source        text NOT NULL DEFAULT 'upload' CHECK (source IN ('upload', 'letter')),
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    deleted_by    text
);
CREATE INDEX attachments_client ON attachments (client_id, created_at) WHERE deleted_at IS NULL;

-- Audit reads per client, newest first (F-33).
CREATE INDEX audit_log_client_newest ON audit_log (client_id, at DESC, id DESC);
"""

DROP = """
DROP INDEX IF EXISTS audit_log_client_newest;
DROP TABLE IF EXISTS attachments, client_notes;
DROP INDEX IF EXISTS contact_channels_contact;
ALTER TABLE contact_channels DROP COLUMN IF EXISTS updated_at;
ALTER TABLE contacts DROP COLUMN IF EXISTS updated_at;
"""


def upgrade() -> None:
    run_script(SCHEMA)


def downgrade() -> None:
    run_script(DROP)
