"""SQL for the client's note pad (F-25)."""

from uuid import UUID, uuid4

import asyncpg

from relance.events import ClientNoteAdded
from relance.outbox import write_events
from relance_dossier.persistence.clients import record_audit


async def add_note(conn: asyncpg.Connection, *, client_id: UUID, text: str, author: str) -> asyncpg.Record:
    """The note, its audit entry and its event commit together (F-25, F-33)."""
    note_id = uuid4()
    async with conn.transaction():
        note = await conn.fetchrow(
            "INSERT INTO client_notes (id, client_id, text, author) VALUES ($1, $2, $3, $4)"
            " RETURNING *",
            note_id, client_id, text, author,
        )
        await write_events(conn, [
            ClientNoteAdded(note_id=note_id, client_id=client_id, author=author)
            .envelope(aggregate_id=client_id, client_id=client_id, actor=author)
        ])
        await record_audit(
            conn, client_id=client_id, actor=author, action="create", entity="note",
            entity_id=str(note_id),
        )
    return note


async def notes_of(conn: asyncpg.Connection, client_id: UUID, limit: int | None = None) -> list[asyncpg.Record]:
    """Newest first."""
    return await conn.fetch(
        "SELECT * FROM client_notes WHERE client_id = $1 ORDER BY created_at DESC, id LIMIT $2",
        client_id, limit,
    )
