"""SQL for the actions to do across open dossiers and each collector's agenda (F-14, F-19).

Interventions To do and pending specific actions are read together, through the client's
*current* collector, so a reassigned client's actions follow it (F-8).

The statement holds only the filters a request gives, each in both halves of the union:
written as `($1 IS NULL OR collector_id = $1)`, one statement served every request, and
the plan PostgreSQL keeps for a prepared statement then could not use the clients'
collector index (an agenda of 10,000 clients among a million took twice as long).
An intervention's dossier is checked to be open against the partial index of the dossiers
that are not, rather than joined by key: 9,000 key probes were three quarters of the time."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

_INTERVENTIONS = """
    SELECT i.id, 'intervention' AS kind, i.origin, i.action_type, i.mode, i.priority, i.due_at,
           i.status, i.comment, i.details->>'label' AS label,
           c.code AS client_code, c.name AS client_name, c.collector_id,
           k.code AS collector_code
    FROM interventions i
    JOIN clients c ON c.id = i.client_id
    LEFT JOIN collectors k ON k.id = c.collector_id
    WHERE i.status = 'todo'
      -- Of an open dossier: checked against the few that are not (index dossiers_not_open).
      AND NOT EXISTS (SELECT 1 FROM dossiers d WHERE d.id = i.dossier_id AND d.state <> 'open')"""

_SPECIFIC_ACTIONS = """
    SELECT a.id, 'specific_action' AS kind, 'specific_action' AS origin, a.action_type, a.mode,
           a.priority, a.due_at, a.status, a.comment, a.label,
           c.code AS client_code, c.name AS client_name, c.collector_id,
           k.code AS collector_code
    FROM specific_actions a
    JOIN clients c ON c.id = a.client_id
    LEFT JOIN collectors k ON k.id = c.collector_id
    WHERE a.status IN ('scheduled', 'todo', 'awaiting_confirmation')"""


@dataclass(frozen=True)
class ActionFilters:
    collector_id: UUID | None = None
    client_code: str | None = None
    action_type: str | None = None
    due_before: datetime | None = None
    kind: str | None = None
    # F-4: the collectors whose clients the caller may see; None is every client.
    visible_to_collectors: list[UUID] | None = None


def _actions_sql(filters: ActionFilters) -> tuple[str, list[Any]]:
    """The union of both kinds with the given filters; its arguments are $1, $2, …"""
    args: list[Any] = []

    def arg(value: Any, cast: str) -> str:
        args.append(value)
        return f"${len(args)}::{cast}"

    on_client = []
    if filters.collector_id is not None:
        on_client.append(f"c.collector_id = {arg(filters.collector_id, 'uuid')}")
    if filters.visible_to_collectors is not None:
        on_client.append(f"c.collector_id = ANY({arg(filters.visible_to_collectors, 'uuid[]')})")
    if filters.client_code is not None:
        on_client.append(f"c.code = {arg(filters.client_code, 'text')}")
    action_type = arg(filters.action_type, "text") if filters.action_type is not None else None
    due_before = arg(filters.due_before, "timestamptz") if filters.due_before is not None else None

    def half(select: str, alias: str) -> str:
        conditions = list(on_client)
        if action_type:
            conditions.append(f"{alias}.action_type = {action_type}")
        if due_before:
            conditions.append(f"{alias}.due_at < {due_before}")
        return select + "".join(f"\n      AND {c}" for c in conditions)

    halves = [half(select, alias) for kind, select, alias in (
        ("intervention", _INTERVENTIONS, "i"), ("specific_action", _SPECIFIC_ACTIONS, "a"))
        if filters.kind in (None, kind)]
    return "\n    UNION ALL".join(halves), args


async def actions_due(
    conn: asyncpg.Connection, *, order_by: str, collector_id: UUID | None,
    client_code: str | None, action_type: str | None, due_before: datetime | None,
    kind: str | None, visible_to_collectors: list[UUID] | None, limit: int, offset: int,
) -> list[asyncpg.Record]:
    """`order_by` comes from domain.actions.sort_clause (a fixed list of columns)."""
    union, args = _actions_sql(ActionFilters(collector_id, client_code, action_type, due_before,
                                             kind, visible_to_collectors))
    return await conn.fetch(
        f"SELECT * FROM ({union}\n) actions ORDER BY {order_by}"
        f" LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}",
        *args, limit, offset,
    )


def actions_due_query(*, order_by: str, collector_id: UUID | None, due_before: datetime | None,
                      visible_to_collectors: list[UUID] | None) -> tuple[str, list]:
    """Every action of an agenda, for its export (F-40): no page, one row each."""
    union, args = _actions_sql(ActionFilters(collector_id=collector_id, due_before=due_before,
                                             visible_to_collectors=visible_to_collectors))
    return f"SELECT false AS is_total, * FROM ({union}\n) agenda ORDER BY {order_by}", args
