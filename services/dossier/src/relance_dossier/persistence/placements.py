"""What a placement gives the agency beyond its items (F-41): the debtor's validated
contacts, the client's files (on an item or on the whole account) and the history of
the dossier's actions, read in the transaction that places the transfer."""

from uuid import UUID

import asyncpg

from relance.events import AgencyDocument, PlacedAction, PlacedChannel, PlacedContact, PlacedDocument
from relance_dossier.persistence import attachments

# The agency gets the latest actions, enough to work the file without a whole archive.
HISTORY_LIMIT = 200


async def validated_contacts(conn: asyncpg.Connection, client_id: UUID) -> list[PlacedContact]:
    """F-21: only validated channels reach an agency; a contact without one is left out."""
    rows = await conn.fetch(
        "SELECT c.name, c.observation, ch.type, ch.value, ch.is_default FROM contacts c"
        " JOIN contact_channels ch ON ch.contact_id = c.id AND ch.state = 'validated'"
        " WHERE c.client_id = $1 ORDER BY c.created_at, c.id, ch.type, NOT ch.is_default, ch.created_at",
        client_id,
    )
    contacts: dict[tuple[str, str | None], PlacedContact] = {}
    for row in rows:
        contact = contacts.setdefault((row["name"], row["observation"]), PlacedContact(
            name=row["name"], role=row["observation"], channels=[]))
        contact.channels.append(PlacedChannel(type=row["type"], value=row["value"],
                                              is_default=row["is_default"]))
    return list(contacts.values())


async def documents_by_item(
    conn: asyncpg.Connection, client_id: UUID
) -> tuple[dict[UUID, list[PlacedDocument]], list[PlacedDocument]]:
    """The client's files that are not deleted: those on an item, by item, and the others
    (letters sent, documents on the whole account)."""
    rows = await conn.fetch(
        "SELECT id, item_id, filename, content_type, size_bytes, description FROM attachments"
        " WHERE client_id = $1 AND deleted_at IS NULL AND source <> 'agency'"
        " ORDER BY created_at, id",
        client_id,
    )
    by_item: dict[UUID, list[PlacedDocument]] = {}
    others: list[PlacedDocument] = []
    for row in rows:
        document = PlacedDocument(document_id=row["id"], file_name=row["filename"],
                                  content_type=row["content_type"], size_bytes=row["size_bytes"],
                                  description=row["description"])
        (by_item.setdefault(row["item_id"], []) if row["item_id"] else others).append(document)
    return by_item, others


async def action_history(conn: asyncpg.Connection, client_id: UUID) -> list[PlacedAction]:
    """The interventions (F-10, F-12, F-15) and communications (F-23) of the client, the
    latest HISTORY_LIMIT in time order."""
    rows = await conn.fetch(
        "SELECT * FROM ("
        " SELECT coalesce(completed_at, due_at) AS at, 'intervention' AS kind, action_type AS action,"
        "  status, coalesce(details->>'label', template_code) AS description, comment"
        "  FROM interventions WHERE client_id = $1"
        " UNION ALL"
        " SELECT coalesce(sent_at, created_at), 'communication', channel, status,"
        "  coalesce(subject, template_code), NULL FROM communications WHERE client_id = $1"
        " ORDER BY at DESC LIMIT $2) latest ORDER BY at, kind",
        client_id, HISTORY_LIMIT,
    )
    return [PlacedAction(**dict(row)) for row in rows]


async def document_of_placement(
    conn: asyncpg.Connection, transfer_id: UUID, document_id: UUID
) -> asyncpg.Record | None:
    """A file of the placed transfer's client that is not deleted (what the agency may fetch)."""
    return await conn.fetchrow(
        "SELECT a.* FROM attachments a JOIN transfers t ON t.client_id = a.client_id"
        " WHERE t.id = $1 AND a.id = $2 AND a.deleted_at IS NULL AND t.placed_at IS NOT NULL",
        transfer_id, document_id,
    )


async def message_recorded(conn: asyncpg.Connection, message_id: UUID) -> bool:
    """Has this agency message already joined a transfer's history (F-41)?"""
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM audit_log WHERE entity = 'transfer'"
        " AND action = 'agency_message' AND details->>'message_id' = $1)", str(message_id)))


async def insert_agency_document(
    conn: asyncpg.Connection, *, client_id: UUID, document: AgencyDocument, storage_path: str,
    agency_code: str, transfer_id: UUID,
) -> None:
    """An agency's document among the client's files (F-26), as an `agency` file."""
    await attachments.insert_attachment(
        conn, attachment_id=document.document_id, client_id=client_id,
        filename=document.file_name, content_type=document.content_type,
        size_bytes=document.size_bytes, sha256=document.sha256,
        description=f"Sent by the agency {agency_code} on the transfer {transfer_id}",
        storage_path=storage_path, actor=f"agency:{agency_code}", source="agency",
    )
