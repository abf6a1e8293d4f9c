"""SQL of the notifier. Every function takes a connection, so the caller decides the
transaction (the communications row, the processed event and the outbox events are
written together)."""

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from relance_notifier.channels.base import StoredDocument
from relance_notifier.domain.communication import RETRYING, SENT
from relance_notifier.domain.contacts import ContactChannel
from relance_notifier.domain.rendering import Template


@dataclass(frozen=True)
class Prior:
    """What is already known of a command: was this event processed, and the status of
    its communication (None: no row yet)."""

    event_processed: bool
    status: str | None


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
    provider_ref: str | None = None
    attachment_id: UUID | None = None


@dataclass(frozen=True)
class CommandContext:
    """What the decision about one command needs from the database."""

    prior: Prior
    client_exists: bool
    channels: list[ContactChannel]  # of the command's contact type, any state
    template: Template | None


async def load_command_context(
    conn: asyncpg.Connection,
    consumer: str,
    event_id: UUID,
    communication_id: UUID,
    client_id: UUID,
    contact_type: str | None,
    template_code: str,
) -> CommandContext:
    """In one query: was the event processed, the communication's status, does the client
    exist, its contact channels of `contact_type` (None: none, e.g. an internal email;
    the domain chooses among them) and the template."""
    row = await conn.fetchrow(
        """
        SELECT
            EXISTS (SELECT 1 FROM processed_events WHERE consumer = $1 AND event_id = $2)
                AS processed,
            c.status,
            EXISTS (SELECT 1 FROM clients WHERE id = $4) AS client_exists,
            (SELECT COALESCE(json_agg(json_build_object(
                        'type', ch.type,
                        'value', ch.value, 'state', ch.state, 'is_default', ch.is_default)
                    ORDER BY ch.is_default DESC, ch.created_at), '[]'::json)
             FROM contact_channels ch WHERE ch.client_id = $4 AND ch.type = $5) AS channels,
            t.code AS template_code, t.channel AS template_channel, t.locale, t.subject, t.body
        FROM (SELECT 1) AS one
        LEFT JOIN communications c ON c.id = $3
        LEFT JOIN templates t ON t.code = $6
        """,
        consumer,
        event_id,
        communication_id,
        client_id,
        contact_type,
        template_code,
    )
    template = None
    if row["template_code"] is not None:
        template = Template(
            code=row["template_code"],
            channel=row["template_channel"],
            locale=row["locale"],
            subject=row["subject"],
            body=row["body"],
        )
    return CommandContext(
        prior=Prior(
            event_processed=row["processed"],
            status=row["status"],
        ),
        client_exists=row["client_exists"],
        channels=[
            ContactChannel(
                type=ch["type"],
                value=ch["value"],
                state=ch["state"],
                is_default=ch["is_default"],
            )
            for ch in row["channels"]
        ],
        template=template,
    )


async def upsert_communication(conn: asyncpg.Connection, record: CommunicationRecord) -> bool:
    """Insert or update the communication; a row already 'sent' is never changed.
    Returns False when nothing was written (the communication was already sent)."""
    written = await conn.fetchval(
        """
        INSERT INTO communications AS c (id, client_id, dossier_id, intervention_id, channel,
            template_code, recipient, subject, body, status, attempts, error, sent_at,
            provider_ref, attachment_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                CASE WHEN $13::boolean THEN now() END, $15, $16)
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
            sent_at = EXCLUDED.sent_at,
            provider_ref = COALESCE(EXCLUDED.provider_ref, c.provider_ref),
            attachment_id = COALESCE(EXCLUDED.attachment_id, c.attachment_id)
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
        record.provider_ref,
        record.attachment_id,
    )
    return bool(written)


NOTIFIER_ACTOR = "notifier"
LETTER_SOURCE = "letter"


async def insert_document(conn: asyncpg.Connection, document: StoredDocument) -> None:
    """Record a letter's PDF as one of the client's documents (F-26); its id is the
    communication's, so a redelivery finds it there already."""
    await conn.execute(
        """
        INSERT INTO attachments (id, client_id, filename, content_type, size_bytes, sha256,
            description, storage_path, source, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (id) DO NOTHING
        """,
        document.id,
        document.client_id,
        document.filename,
        document.content_type,
        document.size_bytes,
        document.sha256,
        document.description,
        document.storage_path,
        LETTER_SOURCE,
        NOTIFIER_ACTOR,
    )


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


@dataclass(frozen=True)
class DeliveredCommunication:
    client_id: UUID
    channel: str
    dossier_id: UUID | None
    intervention_id: UUID | None
    provider_ref: str | None


async def communication_exists(conn: asyncpg.Connection, communication_id: UUID) -> bool:
    return bool(
        await conn.fetchval("SELECT true FROM communications WHERE id = $1", communication_id)
    )


async def record_delivery(
    conn: asyncpg.Connection,
    communication_id: UUID,
    delivery_status: str,
    provider_ref: str | None,
    reason: str | None,
) -> DeliveredCommunication | None:
    """Set the final delivery status of a sent communication; None when nothing changed
    (not sent, or the same status reported again)."""
    row = await conn.fetchrow(
        """
        UPDATE communications SET delivery_status = $2, delivery_updated_at = now(),
            provider_ref = COALESCE(provider_ref, $3),
            error = CASE WHEN $2 = 'undelivered' THEN $4 ELSE error END
        WHERE id = $1 AND status = $5 AND delivery_status IS DISTINCT FROM $2
        RETURNING client_id, channel, dossier_id, intervention_id, provider_ref
        """,
        communication_id,
        delivery_status,
        provider_ref,
        reason,
        SENT,
    )
    if row is None:
        return None
    return DeliveredCommunication(
        client_id=row["client_id"],
        channel=row["channel"],
        dossier_id=row["dossier_id"],
        intervention_id=row["intervention_id"],
        provider_ref=row["provider_ref"],
    )
