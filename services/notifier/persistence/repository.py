"""SQL of the notifier. Every function takes a connection, so the caller decides the
transaction (the communications row, the processed event and the outbox events are
written together)."""

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from relance_notifier.domain.communication import RETRYING, SENT
from relance_notifier.domain.contacts import ContactChannel
from relance_notifier.domain.rendering import Template


@dataclass(frozen=True)
class Prior:
    """What is already known of a command: was this event processed, and the status of
    its communication (None: no row yet)."""

    event_processed: bool
    status: str | None
    attempts: int


@dataclass(frozen=True)
class CommunicationRecord:
    id: UUID
    client_id: UUID
    channel: str
    status: str
    dossier_id: UUID | None = None
    intervention_id: UUID | None = None
    template_code: str | None = None
    recipient: str | None = None
    subject: str | None = None
    body: str | None = None
    attempts: int = 0  # added to the row's attempts
    error: str | None = None
    sent: bool = False  # sets sent_at = now()


async def load_prior(
    conn: asyncpg.Connection, consumer: str, event_id: UUID, communication_id: UUID
) -> Prior:
    row = await conn.fetchrow(
        "SELECT EXISTS (SELECT 1 FROM processed_events WHERE consumer = $1 AND event_id = $2)"
        " AS processed, c.status, c.attempts"
        " FROM (SELECT 1) AS one LEFT JOIN communications c ON c.id = $3",
        consumer,
        event_id,
        communication_id,
    )
    return Prior(
        event_processed=row["processed"], status=row["status"], attempts=row["attempts"] or 0
    )


async def client_exists(conn: asyncpg.Connection, client_id: UUID) -> bool:
    return bool(await conn.fetchval("SELECT true FROM clients WHERE id = $1", client_id))


async def fetch_channels(
    conn: asyncpg.Connection, client_id: UUID, contact_type: str
) -> list[ContactChannel]:
    """Every channel of that type of the client, whatever its state (the domain chooses)."""
    rows = await conn.fetch(
        "SELECT id, contact_id, type, value, state, is_default FROM contact_channels"
        " WHERE client_id = $1 AND type = $2 ORDER BY is_default DESC, created_at",
        client_id,
        contact_type,
    )
    return [
        ContactChannel(
            id=r["id"],
            contact_id=r["contact_id"],
            type=r["type"],
            value=r["value"],
            state=r["state"],
            is_default=r["is_default"],
        )
        for r in rows
    ]


async def fetch_template(conn: asyncpg.Connection, code: str) -> Template | None:
    row = await conn.fetchrow(
        "SELECT code, channel, locale, subject, body FROM templates WHERE code = $1", code
    )
    if row is None:
        return None
    return Template(
        code=row["code"],
        channel=row["channel"],
        locale=row["locale"],
        subject=row["subject"],
        body=row["body"],
    )


async def upsert_communication(conn: asyncpg.Connection, record: CommunicationRecord) -> bool:
    """Insert or update the communication; a row already 'sent' is never changed.
    Returns False when nothing was written (the communication was already sent)."""
    written = await conn.fetchval(
        """
        INSERT INTO communications AS c (id, client_id, dossier_id, intervention_id, channel,
            template_code, recipient, subject, body, status, attempts, error, sent_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                CASE WHEN $13::boolean THEN now() END)
        ON CONFLICT (id) DO UPDATE SET
            dossier_id = COALESCE(EXCLUDED.dossier_id, c.dossier_id),
            intervention_id = COALESCE(EXCLUDED.intervention_id, c.intervention_id),
            channel = EXCLUDED.channel,
            template_code = EXCLUDED.template_code,
            recipient = COALESCE(EXCLUDED.recipient, c.recipient),
            subject = COALESCE(EXCLUDED.subject, c.subject),
            body = COALESCE(EXCLUDED.body, c.body),
            status = EXCLUDED.status,
            attempts = c.attempts + EXCLUDED.attempts,
            error = EXCLUDED.error,
            sent_at = EXCLUDED.sent_at
        WHERE c.status <> $14
        RETURNING true
        """,
        record.id,
        record.client_id,
        record.dossier_id,
        record.intervention_id,
        record.channel,
        record.template_code,
        record.recipient,
        record.subject,
        record.body,
        record.status,
        record.attempts,
        record.error,
        record.sent,
        SENT,
    )
    return bool(written)


async def record_retry(
    conn: asyncpg.Connection, communication_id: UUID, attempts: int, error: str
) -> None:
    """Keep the trace of failed attempts before the command is redelivered."""
    await conn.execute(
        "UPDATE communications SET status = $2, attempts = attempts + $3, error = $4"
        " WHERE id = $1 AND status <> $5",
        communication_id,
        RETRYING,
        attempts,
        error,
        SENT,
    )
