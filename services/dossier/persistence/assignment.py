"""Automatic collector assignment (F-6), applied to every new client.

Called in the transaction that creates clients (the client API and the ERP import), so a
new client never exists without the rules having been applied."""

from uuid import UUID

import asyncpg


async def assign_new_clients(conn: asyncpg.Connection, client_ids: list[UUID], actor: str) -> None:
    """Apply the ordered assignment rules, then the default collector, to `client_ids`
    that have no collector yet. The assignment work fills this in; until then new
    clients keep the collector they were created with."""
    del conn, client_ids, actor
