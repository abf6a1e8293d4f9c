"""One owner per table (F-23, F-32): the notifier sends with the dossier's tables out of
its reach. It runs here under a database role that may use its own schema only, with a
search_path of `notifier` alone: a command built by the dossier is sent end to end, and
its outcome lands in the notifier's record and outbox."""

from uuid import UUID, uuid4

import asyncpg
import pytest

from relance.db import _init_connection
from relance.events import EventEnvelope
from relance_dossier.persistence.communications import communication_command
from relance_notifier.channels.base import OutgoingMessage, SendResult
from relance_notifier.persistence.migrations import SCHEMA
from relance_notifier.service import Notifier
from relance_notifier.settings import Settings

ROLE = "relance_test_notifier_only"


class RecordingChannel:
    name = "email"

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> SendResult:
        self.sent.append(message)
        return SendResult()


async def _notifier_only_pool(db, database_url: str) -> asyncpg.Pool:
    """Connections that can reach schema notifier and nothing of the dossier's."""
    async with db.acquire() as conn:
        try:
            await conn.execute(f"CREATE ROLE {ROLE} NOLOGIN")
        except asyncpg.DuplicateObjectError:
            pass
        await conn.execute(f"GRANT USAGE ON SCHEMA {SCHEMA} TO {ROLE}")
        await conn.execute(
            f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {SCHEMA} TO {ROLE}")
        await conn.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO {ROLE}")

    async def setup(conn: asyncpg.Connection) -> None:  # on every acquire: a release resets
        await conn.execute(f"SET ROLE {ROLE}")

    return await asyncpg.create_pool(database_url, min_size=1, max_size=2,
                                     init=_init_connection, setup=setup,
                                     server_settings={"search_path": SCHEMA})


async def _client(db) -> tuple[UUID, str]:
    client_id, contact_id = uuid4(), uuid4()
    address = f"owner-{client_id.hex[:8]}@client.example"
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO dossier.clients (id, code, name) VALUES ($1, $2, $3)",
                           client_id, f"OWN-{client_id.hex[:8]}", "Propriétaires SA")
        await conn.execute("INSERT INTO dossier.contacts (id, client_id, name) VALUES ($1, $2, $3)",
                           contact_id, client_id, "Comptabilité")
        await conn.execute(
            "INSERT INTO dossier.contact_channels (id, contact_id, client_id, type, value, state,"
            " is_default) VALUES ($1, $2, $3, 'email', $4, 'validated', true)",
            uuid4(), contact_id, client_id, address,
        )
    return client_id, address


async def test_f23_the_notifier_sends_with_no_dossier_table_readable(db, stack):
    client_id, address = await _client(db)
    async with db.acquire() as conn:
        command = await communication_command(
            conn, communication_id=uuid4(), client_id=client_id, channel="email",
            template_code="relance-email-1", item_ids=None, automatic=True,
        )
    assert command.template is not None and [c.value for c in command.contact_channels] == [
        address]
    envelope: EventEnvelope = command.envelope(aggregate_id=client_id, client_id=client_id)

    pool = await _notifier_only_pool(db, stack.database_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pool.fetchval("SELECT count(*) FROM dossier.clients")
        assert await pool.fetchval("SELECT to_regclass('templates')") is None
        channel = RecordingChannel()
        notifier = Notifier(pool, {"email": channel}, Settings(database_url=stack.database_url))
        await notifier.handle(envelope)
    finally:
        await pool.close()

    [message] = channel.sent
    assert message.recipient == address and "Propriétaires SA" in message.subject
    row = await db.fetchrow("SELECT status, recipient, attempts FROM notifier.communications"
                            " WHERE id = $1", command.communication_id)
    assert (row["status"], row["recipient"], row["attempts"]) == ("sent", address, 1)
    event = await db.fetchval(
        "SELECT event FROM notifier.outbox WHERE event_type = 'communication.sent'"
        " AND event->'payload'->>'communication_id' = $1", str(command.communication_id))
    assert event["payload"]["recipient"] == address
    assert event["payload"]["subject"] == message.subject
    assert event["payload"]["body"] == message.body and not event["payload"]["body_truncated"]
