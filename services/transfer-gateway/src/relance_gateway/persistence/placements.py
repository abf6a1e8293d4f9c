"""Placements, cancellation requests and the messages an agency receives (F-29, F-31)."""

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

PLACEMENT_COLUMNS = (
    "transfer_id, agency_code, client_id, client_code, status, agency_reference, acknowledged_at,"
    " agency_status, cancellation_comment, refusal_reason, placement, placed_at, updated_at"
)
MESSAGE_COLUMNS = "id, agency_code, transfer_id, kind, body, created_at, acknowledged_at"


async def insert_placement(
    conn: asyncpg.Connection, *, transfer_id: UUID, agency_code: str, client_id: UUID,
    client_code: str, placement: dict[str, Any], placed_at: datetime,
) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO gateway_placements (transfer_id, agency_code, client_id, client_code,"
        " status, placement, placed_at) VALUES ($1, $2, $3, $4, 'placed', $5, $6)"
        " ON CONFLICT (transfer_id) DO NOTHING RETURNING true",
        transfer_id, agency_code, client_id, client_code, placement, placed_at,
    )
    return bool(inserted)


async def insert_message(
    conn: asyncpg.Connection, *, message_id: UUID, agency_code: str, transfer_id: UUID,
    kind: str, body: dict[str, Any], webhook_url: str | None,
) -> None:
    """A message for the agency, and its webhook delivery when the agency has a URL."""
    await conn.execute(
        "INSERT INTO gateway_messages (id, agency_code, transfer_id, kind, body)"
        " VALUES ($1, $2, $3, $4, $5)",
        message_id, agency_code, transfer_id, kind, body,
    )
    if webhook_url:
        await conn.execute(
            "INSERT INTO gateway_deliveries (id, message_id, agency_code, url)"
            " VALUES ($1, $2, $3, $4)",
            uuid4(), message_id, agency_code, webhook_url,
        )


async def get_placement(
    conn: asyncpg.Connection, agency_code: str, transfer_id: UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    """The agency's placement; another agency's transfer is as absent as an unknown one."""
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {PLACEMENT_COLUMNS} FROM gateway_placements"
        f" WHERE transfer_id = $1 AND agency_code = $2{lock}",
        transfer_id, agency_code,
    )


async def get_any_placement(conn: asyncpg.Connection, transfer_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {PLACEMENT_COLUMNS} FROM gateway_placements WHERE transfer_id = $1 FOR UPDATE",
        transfer_id,
    )


async def list_placements(
    conn: asyncpg.Connection, agency_code: str, status: str | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {PLACEMENT_COLUMNS} FROM gateway_placements WHERE agency_code = $1"
        " AND ($2::text IS NULL OR status = $2) ORDER BY placed_at DESC LIMIT $3",
        agency_code, status, limit,
    )


async def list_all_placements(
    conn: asyncpg.Connection, agency_code: str | None, status: str | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {PLACEMENT_COLUMNS} FROM gateway_placements"
        " WHERE ($1::text IS NULL OR agency_code = $1) AND ($2::text IS NULL OR status = $2)"
        " ORDER BY placed_at DESC LIMIT $3",
        agency_code, status, limit,
    )


async def counts_by_status(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM gateway_placements GROUP BY status")
    return {r["status"]: r["n"] for r in rows}


async def set_placement(conn: asyncpg.Connection, transfer_id: UUID, **changes: Any) -> None:
    assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(changes, start=2))
    await conn.execute(
        f"UPDATE gateway_placements SET {assignments}, updated_at = now() WHERE transfer_id = $1",
        transfer_id, *changes.values(),
    )


async def list_new_messages(
    conn: asyncpg.Connection, agency_code: str, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {MESSAGE_COLUMNS} FROM gateway_messages"
        " WHERE agency_code = $1 AND acknowledged_at IS NULL ORDER BY created_at, id LIMIT $2",
        agency_code, limit,
    )


async def get_message(
    conn: asyncpg.Connection, agency_code: str, message_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {MESSAGE_COLUMNS} FROM gateway_messages WHERE id = $1 AND agency_code = $2"
        " FOR UPDATE",
        message_id, agency_code,
    )


async def acknowledge_message(conn: asyncpg.Connection, message_id: UUID, by: str) -> datetime:
    """Mark a message taken; the first acknowledgement's time stays."""
    return await conn.fetchval(
        "UPDATE gateway_messages SET acknowledged_at = coalesce(acknowledged_at, now()),"
        " acknowledged_by = coalesce(acknowledged_by, $2) WHERE id = $1 RETURNING acknowledged_at",
        message_id, by,
    )


async def insert_payment(
    conn: asyncpg.Connection, *, agency_code: str, payment_id: str, transfer_id: UUID,
    item_number: str, amount: Any, currency: str, collected_on: Any,
) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO gateway_payments (agency_code, payment_id, transfer_id, item_number,"
        " amount, currency, collected_on) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT DO NOTHING RETURNING true",
        agency_code, payment_id, transfer_id, item_number, amount, currency, collected_on,
    )
    return bool(inserted)


async def insert_agency_document(
    conn: asyncpg.Connection, *, document_id: UUID, agency_code: str, transfer_id: UUID,
    message_id: UUID, file_name: str, content_type: str, content: bytes, sha256: str,
) -> None:
    await conn.execute(
        "INSERT INTO gateway_agency_documents (id, agency_code, transfer_id, message_id, file_name,"
        " content_type, size_bytes, sha256, content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        document_id, agency_code, transfer_id, message_id, file_name, content_type, len(content),
        sha256, content,
    )


async def agency_document(conn: asyncpg.Connection, document_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT file_name, content_type, content FROM gateway_agency_documents WHERE id = $1",
        document_id,
    )
