"""SQL for the actions to do across open dossiers and each collector's agenda (F-14, F-19).

Interventions To do and pending specific actions are read together, through the client's
*current* collector, so a reassigned client's actions follow it (F-8)."""

from datetime import datetime
from uuid import UUID

import asyncpg

ACTIONS_DUE = """
SELECT * FROM (
    SELECT i.id, 'intervention' AS kind, i.origin, i.action_type, i.mode, i.priority, i.due_at,
           i.status, i.comment, COALESCE(i.details->>'label', NULL) AS label,
           c.code AS client_code, c.name AS client_name, c.collector_id,
           k.code AS collector_code
    FROM interventions i
    JOIN dossiers d ON d.id = i.dossier_id AND d.state = 'open'
    JOIN clients c ON c.id = i.client_id
    LEFT JOIN collectors k ON k.id = c.collector_id
    WHERE i.status = 'todo'
    UNION ALL
    SELECT a.id, 'specific_action', 'specific_action', a.action_type, a.mode, a.priority,
           a.due_at, a.status, a.comment, a.label,
           c.code, c.name, c.collector_id, k.code
    FROM specific_actions a
    JOIN clients c ON c.id = a.client_id
    LEFT JOIN collectors k ON k.id = c.collector_id
    WHERE a.status IN ('scheduled', 'todo', 'awaiting_confirmation')
) actions
WHERE ($1::uuid IS NULL OR collector_id = $1)
  AND ($2::text IS NULL OR client_code = $2)
  AND ($3::text IS NULL OR action_type = $3)
  AND ($4::timestamptz IS NULL OR due_at < $4)
  AND ($5::text IS NULL OR kind = $5)
  AND ($6::uuid[] IS NULL OR collector_id = ANY($6))
"""


async def actions_due(
    conn: asyncpg.Connection, *, order_by: str, collector_id: UUID | None,
    client_code: str | None, action_type: str | None, due_before: datetime | None,
    kind: str | None, visible_to_collectors: list[UUID] | None, limit: int, offset: int,
) -> list[asyncpg.Record]:
    """`order_by` comes from domain.actions.sort_clause (a fixed list of columns)."""
    return await conn.fetch(
        f"{ACTIONS_DUE} ORDER BY {order_by} LIMIT $7 OFFSET $8",
        collector_id, client_code, action_type, due_before, kind, visible_to_collectors,
        limit, offset,
    )


def actions_due_query(*, order_by: str, collector_id: UUID | None, due_before: datetime | None,
                      visible_to_collectors: list[UUID] | None) -> tuple[str, list]:
    """Every action of an agenda, for its export (F-40): no page, one row each."""
    sql = f"SELECT false AS is_total, * FROM ({ACTIONS_DUE}) agenda ORDER BY {order_by}"
    return sql, [collector_id, None, None, due_before, None, visible_to_collectors]
