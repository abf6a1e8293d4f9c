"""SQL and file storage for the files attached to a client (F-26).

The bytes live under the data dir (`attachments/<client id>/<attachment id>`, the path
kept relative so the data dir can move); the row, its audit entry and its event commit
together. A file is written before its row: a failed transaction leaves an orphan file
that is removed at once, never a row without its file."""

import hashlib
import os
from pathlib import Path
from typing import BinaryIO
from uuid import UUID, uuid4

import asyncpg

from relance.events import ClientAttachmentAdded, ClientAttachmentDeleted
from relance.outbox import write_events
from relance_dossier.persistence.clients import record_audit

CHUNK = 1024 * 1024


class TooLarge(Exception):
    pass


def storage_path_for(client_id: UUID, attachment_id: UUID) -> str:
    return f"attachments/{client_id}/{attachment_id}"


def resolve_in_data_dir(data_dir: Path, storage_path: str) -> Path:
    """The file of a row; a path that would leave the data dir is refused."""
    root = data_dir.resolve()
    path = (root / storage_path).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"storage path {storage_path!r} leaves the data dir")
    return path


def store_file(source: BinaryIO, target: Path, max_bytes: int) -> tuple[int, str]:
    """Copy `source` to `target` (via a temporary name, so a half-written file never
    carries the final name), returning (size, sha256). Raises TooLarge past `max_bytes`.
    Blocking: run it in a worker thread."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest, size = hashlib.sha256(), 0
    try:
        with partial.open("wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(size)
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return size, digest.hexdigest()


def remove_file(path: Path) -> None:
    path.unlink(missing_ok=True)


async def insert_attachment(
    conn: asyncpg.Connection, *, attachment_id: UUID, client_id: UUID, filename: str,
    content_type: str, size_bytes: int, sha256: str, description: str | None,
    storage_path: str, actor: str, item_id: UUID | None = None, source: str = "upload",
) -> asyncpg.Record:
    async with conn.transaction():
        row = await conn.fetchrow(
            "INSERT INTO attachments (id, client_id, filename, content_type, size_bytes, sha256,"
            " description, storage_path, source, created_by, item_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *,"
            " (SELECT number FROM items WHERE id = $11) AS item_number",
            attachment_id, client_id, filename, content_type, size_bytes, sha256, description,
            storage_path, source, actor, item_id,
        )
        await write_events(conn, [
            ClientAttachmentAdded(
                attachment_id=attachment_id, client_id=client_id, filename=filename,
                content_type=content_type, size_bytes=size_bytes,
            ).envelope(aggregate_id=client_id, client_id=client_id, actor=actor)
        ])
        await record_audit(
            conn, client_id=client_id, actor=actor, action="create", entity="attachment",
            entity_id=str(attachment_id), comment=description,
            details={"filename": filename, "content_type": content_type, "size_bytes": size_bytes},
        )
    return row


async def attachments_of(conn: asyncpg.Connection, client_id: UUID) -> list[asyncpg.Record]:
    """The client's files that are not deleted, newest first."""
    return await conn.fetch(
        "SELECT a.*, i.number AS item_number FROM attachments a LEFT JOIN items i ON i.id = a.item_id"
        " WHERE a.client_id = $1 AND a.deleted_at IS NULL ORDER BY a.created_at DESC, a.id",
        client_id,
    )


async def attachment_of_client(
    conn: asyncpg.Connection, client_id: UUID, attachment_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT a.*, i.number AS item_number FROM attachments a LEFT JOIN items i ON i.id = a.item_id"
        " WHERE a.id = $1 AND a.client_id = $2 AND a.deleted_at IS NULL",
        attachment_id, client_id,
    )


async def delete_attachment(
    conn: asyncpg.Connection, *, client_id: UUID, attachment_id: UUID, actor: str,
    comment: str | None,
) -> bool:
    """Soft delete: the row and the file stay for the audit trail (F-26, F-33); False when
    there is nothing (left) to delete."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "UPDATE attachments SET deleted_at = now(), deleted_by = $3"
            " WHERE id = $1 AND client_id = $2 AND deleted_at IS NULL RETURNING filename",
            attachment_id, client_id, actor,
        )
        if row is None:
            return False
        await write_events(conn, [
            ClientAttachmentDeleted(attachment_id=attachment_id, client_id=client_id)
            .envelope(aggregate_id=client_id, client_id=client_id, actor=actor)
        ])
        await record_audit(
            conn, client_id=client_id, actor=actor, action="delete", entity="attachment",
            entity_id=str(attachment_id), comment=comment, details={"filename": row["filename"]},
        )
    return True


def new_attachment_id() -> UUID:
    return uuid4()

