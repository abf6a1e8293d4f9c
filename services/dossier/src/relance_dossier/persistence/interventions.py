"""SQL for interventions read by the API, and their one document (F-10, F-13)."""

from uuid import UUID

import asyncpg

from relance_dossier.persistence.clients import record_audit

COLUMNS = (
    "i.id, i.dossier_id, i.client_id, i.origin, i.scenario_code, i.scenario_version,"
    " i.step_index, i.action_type, i.mode, i.priority, i.template_code, i.due_at, i.status,"
    " i.comment, i.details, i.created_at, i.completed_at, i.created_by, i.promise_amount,"
    " i.promise_date, i.outcome, i.prepared_at, i.document_name, i.document_content_type,"
    " i.document_attached_at, octet_length(i.document) AS document_size"
)


async def intervention(conn: asyncpg.Connection, intervention_id: UUID):
    """The intervention with its client's code and collector (for visibility, F-4)."""
    return await conn.fetchrow(
        f"SELECT {COLUMNS}, c.code AS client_code, c.collector_id FROM interventions i"
        " JOIN clients c ON c.id = i.client_id WHERE i.id = $1",
        intervention_id,
    )


async def open_invoice_ids(conn: asyncpg.Connection, dossier_id: UUID) -> list[UUID]:
    return [r["id"] for r in await conn.fetch(
        "SELECT id FROM items WHERE dossier_id = $1 AND kind = 'invoice' AND open_amount > 0",
        dossier_id,
    )]


async def items_of_dossier(conn: asyncpg.Connection, dossier_id: UUID, item_ids: list[UUID]) -> set[UUID]:
    rows = await conn.fetch(
        "SELECT id FROM items WHERE dossier_id = $1 AND id = ANY($2::uuid[])", dossier_id, item_ids
    )
    return {r["id"] for r in rows}


async def attach_document(conn: asyncpg.Connection, *, intervention_id: UUID, client_id: UUID,
                          name: str, content_type: str, content: bytes, actor: str) -> bool:
    """F-13: one document; False when one is already attached (never replaced)."""
    attached = await conn.fetchval(
        "UPDATE interventions SET document = $2, document_name = $3, document_content_type = $4,"
        " document_attached_at = now() WHERE id = $1 AND document IS NULL RETURNING true",
        intervention_id, content, name, content_type,
    )
    if attached:
        await record_audit(conn, client_id=client_id, actor=actor, action="attach_document",
                           entity="intervention", entity_id=str(intervention_id),
                           details={"name": name, "size": len(content)})
    return bool(attached)


async def document(conn: asyncpg.Connection, intervention_id: UUID):
    return await conn.fetchrow(
        "SELECT document, document_name, document_content_type FROM interventions"
        " WHERE id = $1", intervention_id,
    )
