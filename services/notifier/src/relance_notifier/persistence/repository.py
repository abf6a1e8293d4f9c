"""SQL of the notifier, on its own schema only (`notifier`: its communications, outbox,
processed events). Every function takes a connection, so the caller decides the
transaction (the communications row, the processed event and the outbox events are
written together)."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from relance_notifier.domain.communication import RETRYING, SENT


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


async def load_prior(
    conn: asyncpg.Connection, consumer: str, event_id: UUID, communication_id: UUID
) -> Prior:
    """In one query: was the event processed, and the communication's status. The rest
    of what the decision needs (contact channels, template) comes in the command: the
    notifier reads no dossier table."""
    row = await conn.fetchrow(
        """
        SELECT
            EXISTS (SELECT 1 FROM processed_events WHERE consumer = $1 AND event_id = $2)
                AS processed,
            (SELECT status FROM communications WHERE id = $3) AS status
        """,
        consumer,
        event_id,
        communication_id,
    )
    return Prior(event_processed=row["processed"], status=row["status"])


@dataclass(frozen=True)
class Written:
    """The communication's row after a write: what its outcome event reports."""

    attempts: int
    sent_at: datetime | None


# Insert or update a communication; a row already 'sent' is never changed. $1…$16 are
# the record's fields (_upsert_args); `{source}` gives the row to insert.
_UPSERT = """
    INSERT INTO communications AS c (id, client_id, dossier_id, intervention_id, channel,
        template_code, recipient, subject, body, status, attempts, error, sent_at,
        provider_ref, attachment_id)
    {source}
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
    RETURNING attempts, sent_at
"""
_VALUES = """VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
            CASE WHEN $13::boolean THEN now() END, $15, $16)"""
UPSERT_COMMUNICATION = _UPSERT.format(source=_VALUES)
# The same, only once the event ($17, $18) is claimed: one statement for both.
CLAIM_AND_UPSERT_COMMUNICATION = (
    "WITH claimed AS (INSERT INTO processed_events (consumer, event_id) VALUES ($17, $18)"
    " ON CONFLICT DO NOTHING RETURNING true)"
    + _UPSERT.format(source="""SELECT $1::uuid, $2::uuid, $3::uuid, $4::uuid, $5::text,
            $6::text, $7::text, $8::text, $9::text, $10::text, $11::integer, $12::text,
            CASE WHEN $13::boolean THEN now() END, $15::text, $16::uuid
        WHERE EXISTS (SELECT FROM claimed)""")
)


def _upsert_args(record: CommunicationRecord) -> tuple:
    return (
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


async def upsert_communication(
    conn: asyncpg.Connection, record: CommunicationRecord
) -> Written | None:
    """Insert or update the communication; a row already 'sent' is never changed.
    Returns None when nothing was written (the communication was already sent)."""
    row = await conn.fetchrow(UPSERT_COMMUNICATION, *_upsert_args(record))
    return Written(attempts=row["attempts"], sent_at=row["sent_at"]) if row else None


async def claim_and_upsert_communication(
    conn: asyncpg.Connection, consumer: str, event_id: UUID, record: CommunicationRecord
) -> Written | None:
    """relance.consumer.claim_event, then upsert_communication if the event was not
    processed before, in one round trip. None when nothing was written (the event was
    processed already, or the communication sent already). Call inside the transaction
    that writes the outcome's events."""
    row = await conn.fetchrow(
        CLAIM_AND_UPSERT_COMMUNICATION, *_upsert_args(record), consumer, event_id
    )
    return Written(attempts=row["attempts"], sent_at=row["sent_at"]) if row else None


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
