"""Transfer gateway security (issue 10, F-31): the replay cache of signed agency requests;
failed deliveries keep the status code of the agency's answer, not its body.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from relance.sql_script import run_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCHEMA = """
-- Signed agency requests already received (F-31): the same signature is refused while
-- its timestamp is within the tolerance window; rows past `expires_at` are pruned.
CREATE TABLE gateway_seen_signatures (
    agency_code  text NOT NULL,
    fingerprint  text NOT NULL,        -- SHA-256 of the signed content
    expires_at   timestamptz NOT NULL, -- the request's timestamp + the tolerance
    PRIMARY KEY (agency_code, fingerprint)
);
CREATE INDEX gateway_seen_signatures_expiry ON gateway_seen_signatures (expires_at);

-- A remote server's answer body was kept after "HTTP nnn: " and shown by the admin API.
UPDATE gateway_deliveries SET last_error = substring(last_error from '^HTTP [0-9]{3}')
 WHERE last_error ~ '^HTTP [0-9]{3}: ';
"""

DROP = """
DROP TABLE IF EXISTS gateway_seen_signatures;
"""


def upgrade() -> None:
    run_script(SCHEMA)


def downgrade() -> None:
    run_script(DROP)
