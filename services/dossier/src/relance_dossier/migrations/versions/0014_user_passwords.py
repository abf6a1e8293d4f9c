"""Passwords for users and the sign-in sessions they open (F-4, F-35).

A password is optional (an API-only user keeps its token); only its argon2 hash is kept.
Signing in with a name and a password opens a session: a bearer token of the same shape
as the users' API tokens, of which only the SHA-256 is stored, valid until it expires or
is revoked on sign-out.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from relance.sql_script import run_script

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SCHEMA = """
ALTER TABLE users ADD COLUMN password_hash text;

CREATE TABLE user_sessions (
    token_sha256  text PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users(id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);
"""

DROP = """
DROP TABLE user_sessions;
ALTER TABLE users DROP COLUMN password_hash;
"""


def upgrade() -> None:
    run_script(SCHEMA)


def downgrade() -> None:
    run_script(DROP)
