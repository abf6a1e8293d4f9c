"""Each service's own Alembic history, in its own PostgreSQL schema (one owner per table).

A service's `migrations/env.py` calls `run_env(SCHEMA)`; `upgrade` is what the service's
start-up and `relance migrate` run. The schema is created when missing, the history's
version table lives in it, and every migration runs with `search_path` set to it, so the
SQL of the migrations names its tables without a schema."""

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import async_engine_from_config

from relance.db import sqlalchemy_url


def alembic_config(database_url: str, script_location: Path, schema: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    # configparser interpolation: a literal % must be doubled.
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    config.attributes["schema"] = schema
    return config


def upgrade(database_url: str, script_location: Path, schema: str) -> None:
    command.upgrade(alembic_config(database_url, script_location, schema), "head")


def run_env(schema: str) -> None:
    """The body of a service's Alembic env.py: run its migrations over asyncpg."""
    config = context.config
    schema = config.attributes.get("schema", schema)

    def run(connection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        connection.execute(text(f'SET search_path TO "{schema}"'))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=None,
            transaction_per_migration=True,
            version_table_schema=schema,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = async_engine_from_config(
            config.get_section(config.config_ini_section, {}),
            prefix="sqlalchemy.",
            poolclass=pool.NullPool,
        )
        async with engine.connect() as connection:
            await connection.run_sync(run)
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"), literal_binds=True,
            version_table_schema=schema,
        )
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run_async())


# The tables every service that writes events, consumes them or records audit entries has
# in its own schema; the first migration of a history runs this. Frozen as written: a
# change is a new migration in each history.
MESSAGING_TABLES = """
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    client_id   uuid,
    actor       text NOT NULL,
    action      text NOT NULL,
    entity      text NOT NULL,
    entity_id   text,
    comment     text,
    details     jsonb NOT NULL DEFAULT '{}',
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_client ON audit_log (client_id, at);

CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    event_id      uuid NOT NULL UNIQUE,
    topic         text NOT NULL,
    key           text NOT NULL,
    event_type    text NOT NULL,
    event         jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at  timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('relance_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_inserted AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

CREATE TABLE processed_events (
    consumer      text NOT NULL,
    event_id      uuid NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
"""

DROP_MESSAGING_TABLES = """
DROP TABLE IF EXISTS processed_events, outbox, audit_log CASCADE;
DROP FUNCTION IF EXISTS outbox_notify();
"""


# The relay parks a row the broker keeps refusing instead of blocking behind it, and prunes
# what is past the retention (issue: nothing stuck). Frozen as written, like the above.
OUTBOX_PARKING = """
ALTER TABLE outbox ADD COLUMN attempts integer NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN last_error text;
ALTER TABLE outbox ADD COLUMN parked_at timestamptz;
DROP INDEX outbox_unpublished;
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL AND parked_at IS NULL;
CREATE INDEX outbox_parked ON outbox (id) WHERE published_at IS NULL AND parked_at IS NOT NULL;
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX processed_events_processed_at ON processed_events (processed_at);
"""

DROP_OUTBOX_PARKING = """
DROP INDEX IF EXISTS processed_events_processed_at;
DROP INDEX IF EXISTS outbox_published_at;
DROP INDEX IF EXISTS outbox_parked;
DROP INDEX IF EXISTS outbox_unpublished;
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
ALTER TABLE outbox DROP COLUMN IF EXISTS parked_at;
ALTER TABLE outbox DROP COLUMN IF EXISTS last_error;
ALTER TABLE outbox DROP COLUMN IF EXISTS attempts;
"""


# The W3C trace context of the change that wrote the row (`traceparent`, `tracestate`): the
# relay sends it as the message's Kafka headers, so one trace follows a request from the API
# through the outbox, Kafka and the consumers. Frozen as written, like the above.
OUTBOX_TRACE_CONTEXT = """
ALTER TABLE outbox ADD COLUMN trace_context jsonb;
"""

DROP_OUTBOX_TRACE_CONTEXT = """
ALTER TABLE outbox DROP COLUMN IF EXISTS trace_context;
"""


# The outbox keeps each event as the text its writer serialised (`json`, checked on input
# and given back as stored) instead of `jsonb`: nothing queries inside it on the hot path,
# and `jsonb` cost a parse on every insert and a serialisation on every claim, about a
# third of the database's CPU per event (issue: performance). The message the relay sends
# is then byte for byte what the writer serialised. Frozen as written, like the above.
OUTBOX_EVENT_AS_WRITTEN = """
ALTER TABLE outbox ALTER COLUMN event TYPE json USING event::json;
"""

DROP_OUTBOX_EVENT_AS_WRITTEN = """
ALTER TABLE outbox ALTER COLUMN event TYPE jsonb USING event::jsonb;
"""


# The insert trigger names its schema in the notification: the relay's loop of each schema
# wakes for its own outbox only, no longer for every write of every service (a claim that
# finds nothing and a count of the backlog, per loop, per write). Frozen as written.
OUTBOX_NOTIFY_NAMES_SCHEMA = """
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('relance_outbox', TG_TABLE_SCHEMA);
    RETURN NULL;
END $$;
"""

DROP_OUTBOX_NOTIFY_NAMES_SCHEMA = """
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('relance_outbox', '');
    RETURN NULL;
END $$;
"""


# A consumer parks a message it keeps failing on (or cannot read) here, in its own schema,
# and moves on (Failure rules); replayed rows keep their `replayed_at`. Frozen as written.
DEAD_LETTERS_TABLE = """
CREATE TABLE dead_letters (
    id           bigserial PRIMARY KEY,
    consumer     text NOT NULL,
    topic        text NOT NULL,
    partition    integer NOT NULL,
    "offset"     bigint NOT NULL,
    key          text,
    payload      bytea NOT NULL,
    -- sha256 of the payload: a redelivery of the same message is parked once, while a
    -- broker that lost its log and reuses offsets still parks a new message.
    payload_sha256 text NOT NULL,
    event_id     uuid,
    event_type   text,
    error        text NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    replayed_at  timestamptz,
    UNIQUE (consumer, topic, partition, "offset", payload_sha256)
);
CREATE INDEX dead_letters_waiting ON dead_letters (id) WHERE replayed_at IS NULL;
"""

DROP_DEAD_LETTERS_TABLE = """
DROP TABLE IF EXISTS dead_letters;
"""
