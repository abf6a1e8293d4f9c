"""Collector assignment (F-5, F-6, F-8, F-24): changing the collector of one client or of
a selection, the ordered rules and the default collector, applied to every new client
and re-applicable on demand.

Every change goes through `apply_assignments`: set-based SQL, one audit entry per
client (F-33) and one `client.collector_changed` event per client, both written in SQL
from the changed rows, in the caller's transaction. Clients whose collector would not
change are left alone (no audit, no event), so re-applying the rules twice changes
nothing the second time."""

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID, uuid4

import asyncpg

from relance.audit import record_audit, record_audit_rows
from relance.events import ClientCollectorChanged
from relance.outbox import write_events_from_rows
from relance_dossier.domain.assignment import (
    AssignmentRule,
    ClientAttributes,
    RuleCriteria,
    choose_collector,
    needs_balances,
)
from relance_dossier.persistence.search import BALANCES_SQL, balances_by_currency


@dataclass(frozen=True)
class Assignment:
    client_id: UUID
    collector_id: UUID | None
    comment: str | None = None


@dataclass(frozen=True)
class AssignmentResult:
    selected: int
    changed: int

    @property
    def unchanged(self) -> int:
        return self.selected - self.changed


async def apply_assignments(
    conn: asyncpg.Connection, assignments: Sequence[Assignment], *, actor: str, source: str
) -> int:
    """Set each client's collector; returns how many actually changed."""
    if not assignments:
        return 0
    async with conn.transaction():
        # The changed rows, kept for this transaction: the audit entries and the events
        # are written from them in SQL (a mass assignment of 100,000 clients built as
        # many Python objects of each, two thirds of its time).
        await conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS assignment_changes (client_id uuid, code text,"
            " previous_collector_id uuid, collector_id uuid, comment text) ON COMMIT DROP"
        )
        await conn.execute("TRUNCATE assignment_changes")
        status = await conn.execute(
            """
            WITH wanted AS (
                SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[])
                    AS w(client_id, collector_id, comment)
            ), target AS (
                SELECT c.id, c.collector_id AS previous_collector_id, w.collector_id, w.comment
                FROM clients c JOIN wanted w ON w.client_id = c.id
                WHERE c.collector_id IS DISTINCT FROM w.collector_id
                -- One lock order for every caller: overlapping mass assignments wait
                -- for each other instead of deadlocking.
                ORDER BY c.id
                FOR UPDATE OF c
            ), changed AS (
                UPDATE clients c
                SET collector_id = t.collector_id, version = c.version + 1, updated_at = now()
                FROM target t WHERE c.id = t.id
                RETURNING c.id, c.code, t.previous_collector_id, t.collector_id, t.comment
            )
            INSERT INTO assignment_changes SELECT * FROM changed
            """,
            [a.client_id for a in assignments],
            [a.collector_id for a in assignments],
            [a.comment for a in assignments],
        )
        changed = int(status.split()[-1])
        if not changed:
            return 0
        named = ("assignment_changes a LEFT JOIN collectors p ON p.id = a.previous_collector_id"
                 " LEFT JOIN collectors k ON k.id = a.collector_id")
        # F-33: one audit entry per client.
        await record_audit_rows(
            conn,
            "SELECT a.client_id, $1, 'change_collector', 'client', a.code, a.comment,"
            " jsonb_build_object('from', p.code, 'to', k.code, 'source', $2::text)"
            f" FROM {named}",
            actor, source,
        )
        # F-8: the agendas follow the client through `client.collector_changed`.
        await write_events_from_rows(
            conn, ClientCollectorChanged, named,
            "jsonb_build_object('client_id', a.client_id, 'code', a.code,"
            " 'previous_collector_id', a.previous_collector_id,"
            " 'previous_collector_code', p.code, 'collector_id', a.collector_id,"
            " 'collector_code', k.code, 'source', $6::text, 'comment', a.comment)",
            aggregate_sql="a.client_id", client_sql="a.client_id", actor=actor, args=(source,),
        )
    return changed


async def assign_collector(
    conn: asyncpg.Connection, client_ids: Sequence[UUID], collector_id: UUID | None, *,
    actor: str, comment: str | None, source: str,
) -> AssignmentResult:
    """One collector for every client of a selection (the card, F-24, or a mass
    assignment, F-5)."""
    changed = await apply_assignments(
        conn, [Assignment(cid, collector_id, comment) for cid in client_ids], actor=actor, source=source
    )
    return AssignmentResult(selected=len(client_ids), changed=changed)


# ---- rules and default collector (F-6) --------------------------------------------------


async def load_rules(conn: asyncpg.Connection) -> list[AssignmentRule]:
    rows = await conn.fetch("SELECT * FROM assignment_rules ORDER BY position")
    return [
        AssignmentRule(r["position"], RuleCriteria.model_validate(r["criteria"]), r["collector_id"])
        for r in rows
    ]


async def list_rules(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT r.*, k.code AS collector_code FROM assignment_rules r"
        " JOIN collectors k ON k.id = r.collector_id ORDER BY r.position"
    )


async def replace_rules(
    conn: asyncpg.Connection, rules: Sequence[tuple[RuleCriteria, UUID]], *, actor: str, comment: str | None
) -> None:
    """The ordered list is replaced as a whole: positions 1..n in the order given."""
    async with conn.transaction():
        await conn.execute("DELETE FROM assignment_rules")
        await conn.executemany(
            "INSERT INTO assignment_rules (id, position, criteria, collector_id) VALUES ($1,$2,$3,$4)",
            [
                (uuid4(), position, criteria.model_dump(mode="json", exclude_defaults=True), collector_id)
                for position, (criteria, collector_id) in enumerate(rules, start=1)
            ],
        )
        await _audit_settings(conn, actor, "replace_rules", comment, {"rules": len(rules)})


async def default_collector(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT k.* FROM assignment_settings s JOIN collectors k ON k.id = s.default_collector_id"
    )


async def set_default_collector(
    conn: asyncpg.Connection, collector_id: UUID | None, *, actor: str, comment: str | None
) -> None:
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO assignment_settings (singleton, default_collector_id) VALUES (true, $1)"
            " ON CONFLICT (singleton) DO UPDATE SET default_collector_id = $1, updated_at = now()",
            collector_id,
        )
        await _audit_settings(conn, actor, "set_default_collector", comment,
                              {"collector_id": str(collector_id) if collector_id else None})


async def _audit_settings(conn, actor: str, action: str, comment: str | None, details: dict) -> None:
    # Not about one client: client_id is empty, the entity names the setting (F-33).
    await record_audit(conn, client_id=None, actor=actor, action=action,
                       entity="assignment_rules", entity_id=None, comment=comment, details=details)


async def _apply_rules(
    conn: asyncpg.Connection, clients: Sequence[asyncpg.Record], rules: Sequence[AssignmentRule], *,
    actor: str, extra_comment: str | None
) -> AssignmentResult:
    default_id = await conn.fetchval("SELECT default_collector_id FROM assignment_settings")
    if not rules and default_id is None:
        return AssignmentResult(selected=len(clients), changed=0)
    assignments = []
    for client in clients:
        choice = choose_collector(
            ClientAttributes(client["country"], client["segment"], client["category"],
                             client["risk"], client["tags"],
                             balances_by_currency(client.get("balances"))),
            rules, default_id,
        )
        if choice is not None:
            comment = f"{choice.reason}; {extra_comment}" if extra_comment else choice.reason
            assignments.append(Assignment(client["id"], choice.collector_id, comment))
    changed = await apply_assignments(conn, assignments, actor=actor, source="automatic")
    return AssignmentResult(selected=len(clients), changed=changed)


def _attributes_sql(rules: Sequence[AssignmentRule]) -> str:
    """The clients' attributes the rules read; their balances only when a rule has a
    threshold (F-43), as they cost a look at every client's items."""
    balances = f", {BALANCES_SQL} AS balances" if needs_balances([r.criteria for r in rules]) else ""
    return f"SELECT c.id, c.country, c.segment, c.category, c.risk, c.tags{balances} FROM clients c"


async def assign_new_clients(conn: asyncpg.Connection, client_ids: list[UUID], actor: str) -> None:
    """F-6: apply the ordered assignment rules, then the default collector, to the new
    clients among `client_ids` that have no collector yet (a collector given by the ERP
    import is kept). Runs in the caller's transaction."""
    if not client_ids:
        return
    rules = await load_rules(conn)
    clients = await conn.fetch(
        f"{_attributes_sql(rules)} WHERE c.id = ANY($1::uuid[]) AND c.collector_id IS NULL",
        client_ids,
    )
    await _apply_rules(conn, clients, rules, actor=actor, extra_comment=None)


async def reapply_rules(
    conn: asyncpg.Connection, *, only_unassigned: bool, actor: str, comment: str | None
) -> AssignmentResult:
    """F-6 on demand: to the clients without a collector, or to every client (then a
    client that no rule matches goes to the default collector; with no default it keeps
    its collector: re-applying never leaves a client without one)."""
    async with conn.transaction():
        rules = await load_rules(conn)
        clients = await conn.fetch(
            f"{_attributes_sql(rules)} WHERE NOT $1 OR c.collector_id IS NULL ORDER BY c.code",
            only_unassigned,
        )
        return await _apply_rules(conn, clients, rules, actor=actor, extra_comment=comment)
