"""The client's communications, on the dossier side (F-21, F-23, F-26).

- `communication_command` is the one builder of the notifier's CommunicationRequested
  command: the dossier owns clients, items, contact channels and templates, so it puts
  in the command everything the notifier needs of them (the notifier reads no dossier
  table).
- The client's trace (`communications`) is the dossier's: calls are logged into it
  directly; what the notifier sends comes back as communication.events and is applied
  here by the dossier's consumer, with a letter's PDF recorded among the attachments."""

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from uuid import UUID

import asyncpg

from relance.events import (
    CommunicationContact,
    CommunicationDeliveryUpdated,
    CommunicationFailed,
    CommunicationItem,
    CommunicationRequested,
    CommunicationSent,
    CommunicationTemplate,
)
from relance.locales import best_locale
from relance_dossier.domain.late_fees import LateFeePolicy
from relance_dossier.persistence.late_fees import command_late_fees, configured_defaults
from relance_dossier.settings import Settings

# The contact channel type each communication channel goes through (F-21); an internal
# email goes to a colleague, not to a client contact.
CHANNEL_TYPE = {"email": "email", "sms": "phone", "letter": "postal", "call": "phone"}

SENT = "sent"
NOTIFIER_ACTOR = "notifier"
LETTER_SOURCE = "letter"

_ITEM_COLUMNS = (
    "number, kind, issue_date, due_date, amount, open_amount, currency, status, status_comment"
)


class UnknownClient(Exception):
    pass


async def template_versions(conn: asyncpg.Connection, code: str | None) -> list[CommunicationTemplate]:
    """Every locale's version of a template (F-39)."""
    if not code:
        return []
    rows = await conn.fetch(
        "SELECT code, channel, locale, subject, body FROM templates WHERE code = $1"
        " ORDER BY locale", code,
    )
    return [CommunicationTemplate(**dict(r)) for r in rows]


def template_for_locale(
    versions: Sequence[CommunicationTemplate], client_locale: str | None, fallback: str
) -> CommunicationTemplate | None:
    """F-39: the version of the client's locale, else of the fallback locale, else the
    first there is (a template is never missing for its language); the notifier then
    prefers the version of the chosen contact's language."""
    if not versions:
        return None
    locale = best_locale([v.locale for v in versions], client_locale, fallback)
    return next((v for v in versions if v.locale == locale), versions[0])


async def contact_channels_for(
    conn: asyncpg.Connection, client_id: UUID, channel: str
) -> list[CommunicationContact]:
    """The client's channels of `channel`'s type in any state (the notifier chooses, F-21),
    the default first."""
    contact_type = CHANNEL_TYPE.get(channel)
    if contact_type is None or channel == "call":
        return []
    rows = await conn.fetch(
        "SELECT ch.type, ch.value, ch.state, ch.is_default, k.language"
        " FROM contact_channels ch JOIN contacts k ON k.id = ch.contact_id"
        " WHERE ch.client_id = $1 AND ch.type = $2 ORDER BY ch.is_default DESC, ch.created_at",
        client_id, contact_type,
    )
    return [CommunicationContact(**dict(r)) for r in rows]


async def command_items(
    conn: asyncpg.Connection, client_id: UUID, item_ids: Sequence[UUID | str] | None,
    dossier_id: UUID | None = None,
) -> list[CommunicationItem]:
    """The items a message is about: those named (F-18 `…_selected` tags), or with
    `item_ids` None every open item of `dossier_id`."""
    if item_ids is None:
        rows = await conn.fetch(
            f"SELECT {_ITEM_COLUMNS} FROM items WHERE client_id = $1 AND dossier_id = $2"
            " AND open_amount <> 0 ORDER BY due_date, number",
            client_id, dossier_id,
        )
    else:
        rows = await conn.fetch(
            f"SELECT {_ITEM_COLUMNS} FROM items WHERE client_id = $1 AND id = ANY($2::uuid[])"
            " ORDER BY due_date, number",
            client_id, [UUID(str(i)) for i in item_ids],
        )
    return [CommunicationItem(**dict(r)) for r in rows]


async def communication_command(
    conn: asyncpg.Connection, *, communication_id: UUID, client_id: UUID, channel: str,
    template_code: str | None, item_ids: Sequence[UUID | str] | None, automatic: bool,
    dossier_id: UUID | None = None, intervention_id: UUID | None = None,
    contact_value: str | None = None, recipient_email: str | None = None,
    link_url: str | None = None, sender: str | None = None, note: str | None = None,
    subject: str | None = None, body: str | None = None,
    fee_defaults: LateFeePolicy | None = None,
) -> CommunicationRequested:
    """The notifier's command for one communication (F-18, F-21, F-23, F-32): the client,
    the items (`command_items`), the resolved template (None when `template_code` names
    none: the notifier then fails it, unless the message has its own body) with its other
    locales' versions (F-39), the candidate contact channels with their contacts'
    languages, and the late fees owed on the items today (F-38)."""
    client = await conn.fetchrow("SELECT code, name, locale FROM clients WHERE id = $1", client_id)
    if client is None:
        raise UnknownClient(str(client_id))
    settings = command_settings()
    versions = await template_versions(conn, template_code)
    late_fees = await command_late_fees(
        conn, client_id, item_ids, dossier_id, settings.business_timezone,
        fee_defaults or configured_defaults(),
    )
    return CommunicationRequested(
        communication_id=communication_id, client_id=client_id, client_code=client["code"],
        client_name=client["name"], channel=channel, template_code=template_code or "",
        locale=client["locale"], dossier_id=dossier_id, intervention_id=intervention_id,
        items=await command_items(conn, client_id, item_ids, dossier_id), automatic=automatic,
        contact_value=contact_value, recipient_email=recipient_email, link_url=link_url,
        sender=sender, note=note, subject=subject, body=body,
        template=template_for_locale(versions, client["locale"], settings.template_fallback_locale),
        contact_channels=await contact_channels_for(conn, client_id, channel),
        templates=versions, late_fees=late_fees,
    )


@lru_cache(maxsize=1)
def command_settings() -> Settings:
    """The settings the command builder reads (fallback locale, business time zone), read
    once per process: the builder runs in the API and in the activities alike."""
    return Settings()


# ---- the client's trace (F-23) -----------------------------------------------------------


async def log_call(
    conn: asyncpg.Connection, communication_id: UUID, client_id: UUID, recipient: str | None,
    note: str | None, at: datetime,
) -> None:
    """A call is made by the collector; the trace keeps what was said."""
    await conn.execute(
        "INSERT INTO communications (id, client_id, channel, recipient, body, status, sent_at)"
        " VALUES ($1, $2, 'call', $3, $4, 'logged', $5)",
        communication_id, client_id, recipient, note, at,
    )


async def client_exists(conn: asyncpg.Connection, client_id: UUID) -> bool:
    return bool(await conn.fetchval("SELECT true FROM clients WHERE id = $1", client_id))


_UPSERT_TRACE = """
INSERT INTO communications AS c (id, client_id, dossier_id, intervention_id, channel,
    template_code, recipient, subject, body, body_truncated, status, attempts, error,
    sent_at, provider_ref, attachment_id, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
ON CONFLICT (id) DO UPDATE SET
    dossier_id = COALESCE(EXCLUDED.dossier_id, c.dossier_id),
    intervention_id = COALESCE(EXCLUDED.intervention_id, c.intervention_id),
    channel = EXCLUDED.channel,
    template_code = COALESCE(EXCLUDED.template_code, c.template_code),
    recipient = COALESCE(EXCLUDED.recipient, c.recipient),
    subject = COALESCE(EXCLUDED.subject, c.subject),
    body = COALESCE(EXCLUDED.body, c.body),
    body_truncated = EXCLUDED.body_truncated,
    status = EXCLUDED.status,
    attempts = GREATEST(EXCLUDED.attempts, c.attempts),
    error = EXCLUDED.error,
    sent_at = EXCLUDED.sent_at,
    provider_ref = COALESCE(EXCLUDED.provider_ref, c.provider_ref),
    attachment_id = COALESCE(EXCLUDED.attachment_id, c.attachment_id)
WHERE c.status <> 'sent'
RETURNING true
"""


async def record_sent(conn: asyncpg.Connection, sent: CommunicationSent, at: datetime) -> bool:
    """The trace shows the sent communication (F-23) and a letter's PDF is one of the
    client's documents (F-26, id = the communication's); False when already recorded."""
    written = await conn.fetchval(
        _UPSERT_TRACE, sent.communication_id, sent.client_id, sent.dossier_id,
        sent.intervention_id, sent.channel, sent.template_code or None, sent.recipient,
        sent.subject, sent.body, sent.body_truncated, SENT, sent.attempts, None,
        sent.sent_at or at, sent.provider_ref, sent.attachment_id, at,
    )
    if sent.document is not None and sent.attachment_id is not None:
        doc = sent.document
        await conn.execute(
            "INSERT INTO attachments (id, client_id, filename, content_type, size_bytes, sha256,"
            " description, storage_path, source, created_by)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
            sent.attachment_id, sent.client_id, doc.filename, doc.content_type, doc.size_bytes,
            doc.sha256, doc.description, doc.storage_path, LETTER_SOURCE, NOTIFIER_ACTOR,
        )
    return bool(written)


async def record_failed(conn: asyncpg.Connection, failed: CommunicationFailed, at: datetime) -> bool:
    """The trace shows why nothing was sent (failed, or needs_attention: F-21, F-23)."""
    written = await conn.fetchval(
        _UPSERT_TRACE, failed.communication_id, failed.client_id, failed.dossier_id,
        failed.intervention_id, failed.channel, failed.template_code or None, failed.recipient,
        None, None, False, failed.status, failed.attempts, failed.reason, None, None, None, at,
    )
    return bool(written)


async def record_delivery(
    conn: asyncpg.Connection, update: CommunicationDeliveryUpdated, at: datetime
) -> bool:
    """The SMS provider's final report on a sent communication (F-32)."""
    written = await conn.fetchval(
        "UPDATE communications SET delivery_status = $2, delivery_updated_at = $5,"
        " provider_ref = COALESCE(provider_ref, $3),"
        " error = CASE WHEN $2 = 'undelivered' THEN $4 ELSE error END"
        " WHERE id = $1 AND status = 'sent' RETURNING true",
        update.communication_id, update.delivery_status, update.provider_ref, update.reason, at,
    )
    return bool(written)
