"""SQL for client search by criteria or by a list of codes (F-5), saved searches ("my
searches"), and the alert of clients owing money with no collector (F-7).

Visibility is part of every query: a collector's search only ever reaches the clients
assigned to their collector (`Visibility`), so a code they may not see is reported as
unknown, exactly like a code that does not exist."""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from relance_dossier.domain.assignment import ClientCriteria

# F-1: the balance is what the open items owe: invoices and fees (F-38) add, credit notes and payments
# (unallocated) subtract.
SIGNED_OPEN_SQL = "CASE WHEN i.kind IN ('invoice', 'fee') THEN i.open_amount ELSE -i.open_amount END"
BALANCE_SQL = (
    f"COALESCE((SELECT sum({SIGNED_OPEN_SQL})"
    " FROM items i WHERE i.client_id = c.id), 0)::numeric(18,2)"
)

# F-43: what the open items owe in each of their currencies, never added across currencies:
# [{"currency": "EUR", "balance": "1100.00"}, …] by currency, empty when nothing is open.
BALANCES_SQL = (
    "COALESCE((SELECT jsonb_agg(jsonb_build_object('currency', b.currency, 'balance', b.balance::text)"
    f" ORDER BY b.currency) FROM (SELECT i.currency, sum({SIGNED_OPEN_SQL})::numeric(18,2) AS balance FROM items i"
    " WHERE i.client_id = c.id AND i.open_amount <> 0 GROUP BY i.currency) b), '[]'::jsonb)"
)


@dataclass(frozen=True)
class Visibility:
    """`restricted`: only the clients of `only_collector_ids` (none: nothing, as for a
    collector user not linked to a collector)."""

    restricted: bool
    only_collector_ids: list[UUID] = field(default_factory=list)


@dataclass
class _Where:
    clauses: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)

    def add(self, clause: str, *values: Any) -> None:
        # `$?` placeholders are numbered in the order the values are added.
        for value in values:
            self.args.append(value)
            clause = clause.replace("$?", f"${len(self.args)}", 1)
        self.clauses.append(clause)

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "true"


def _where(criteria: ClientCriteria, codes: list[str] | None, visibility: Visibility) -> _Where:
    where = _Where()
    if visibility.restricted:
        where.add("c.collector_id = ANY($?::uuid[])", visibility.only_collector_ids)
    if codes is not None:
        where.add("c.code = ANY($?::text[])", codes)
    for column in ("country", "segment", "category", "risk"):
        value = getattr(criteria, column)
        if value is not None:
            where.add(f"lower(c.{column}) = lower($?::text)", value)
    if criteria.tags:
        # Every tag asked for, case-insensitively.
        where.add(
            "(SELECT array_agg(lower(t)) FROM unnest(c.tags) t) @> $?::text[]",
            [t.lower() for t in criteria.tags],
        )
    if criteria.collector_code is not None:
        where.add("c.collector_id = (SELECT id FROM collectors WHERE code = $?::text)",
                  criteria.collector_code)
    if criteria.has_collector is not None:
        where.add(f"c.collector_id IS {'NOT ' if criteria.has_collector else ''}NULL")
    if criteria.balance_nonzero is not None:
        where.add(f"{BALANCE_SQL} {'<>' if criteria.balance_nonzero else '='} 0")
    if criteria.balance_over:
        # F-43: over the threshold in one of the currencies given, each in its own currency.
        where.add(
            "EXISTS (SELECT 1 FROM items i JOIN unnest($?::text[], $?::numeric[]) AS t(currency, over)"
            " ON t.currency = i.currency WHERE i.client_id = c.id AND i.open_amount <> 0"
            f" GROUP BY t.currency, t.over HAVING sum({SIGNED_OPEN_SQL}) > t.over)",
            list(criteria.balance_over), list(criteria.balance_over.values()),
        )
    return where


def balances_by_currency(balances: list[dict] | None) -> dict[str, Decimal]:
    """The BALANCES_SQL column as a mapping, for the rules that read it (F-43)."""
    return {b["currency"]: Decimal(b["balance"]) for b in balances or []}


async def search_clients(
    conn: asyncpg.Connection,
    criteria: ClientCriteria,
    *,
    codes: list[str] | None,
    visibility: Visibility,
    limit: int,
    offset: int,
) -> tuple[int, list[asyncpg.Record]]:
    """One page of matching clients (ordered by code) and the total count."""
    where = _where(criteria, codes, visibility)
    total = await conn.fetchval(f"SELECT count(*) FROM clients c WHERE {where.sql()}", *where.args)
    n = len(where.args)
    rows = await conn.fetch(
        f"SELECT c.id, c.code, c.name, c.country, c.segment, c.category, c.tags, c.risk,"
        f" k.code AS collector_code, k.name AS collector_name, {BALANCE_SQL} AS balance,"
        f" {BALANCES_SQL} AS balances"
        f" FROM clients c LEFT JOIN collectors k ON k.id = c.collector_id"
        f" WHERE {where.sql()} ORDER BY c.code LIMIT ${n + 1} OFFSET ${n + 2}",
        *where.args, limit, offset,
    )
    return total, rows


async def selected_client_ids(
    conn: asyncpg.Connection, criteria: ClientCriteria, *, codes: list[str] | None, visibility: Visibility
) -> list[UUID]:
    """Every client of a selection (for mass assignment: no pagination)."""
    where = _where(criteria, codes, visibility)
    rows = await conn.fetch(f"SELECT c.id FROM clients c WHERE {where.sql()} ORDER BY c.code", *where.args)
    return [r["id"] for r in rows]


async def unknown_codes(conn: asyncpg.Connection, codes: list[str], visibility: Visibility) -> list[str]:
    """The pasted codes that name no client the caller may see, in the order pasted."""
    where = _where(ClientCriteria(), codes, visibility)
    rows = await conn.fetch(f"SELECT c.code FROM clients c WHERE {where.sql()}", *where.args)
    found = {r["code"] for r in rows}
    return [code for code in codes if code not in found]


async def clients_without_collector(
    conn: asyncpg.Connection, *, limit: int, offset: int
) -> tuple[int, list[asyncpg.Record]]:
    """F-7: clients with a non-zero balance and no collector, largest balance first."""
    criteria = ClientCriteria(has_collector=False, balance_nonzero=True)
    where = _where(criteria, None, Visibility(restricted=False))
    total = await conn.fetchval(f"SELECT count(*) FROM clients c WHERE {where.sql()}", *where.args)
    rows = await conn.fetch(
        f"SELECT c.id, c.code, c.name, c.country, c.segment, c.category, c.tags, c.risk,"
        f" NULL::text AS collector_code, NULL::text AS collector_name, {BALANCE_SQL} AS balance,"
        f" {BALANCES_SQL} AS balances"
        f" FROM clients c WHERE {where.sql()} ORDER BY balance DESC, c.code LIMIT $1 OFFSET $2",
        limit, offset,
    )
    return total, rows


# ---- saved searches ("my searches", F-5) -------------------------------------------------


class SearchNameTaken(Exception):
    pass


async def save_search(
    conn: asyncpg.Connection, *, user_id: UUID, name: str, criteria: ClientCriteria, codes: list[str] | None
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "INSERT INTO saved_searches (id, user_id, name, criteria, codes) VALUES ($1,$2,$3,$4,$5)"
        " ON CONFLICT (user_id, name) DO NOTHING RETURNING *",
        uuid4(), user_id, name, criteria.model_dump(mode="json", exclude_defaults=True), codes,
    )
    if row is None:
        raise SearchNameTaken(name)
    return row


async def searches_of(conn: asyncpg.Connection, user_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM saved_searches WHERE user_id = $1 ORDER BY name", user_id)


async def search_of(conn: asyncpg.Connection, user_id: UUID, search_id: UUID) -> asyncpg.Record | None:
    # Only the owner's: another user's saved search answers like one that does not exist.
    return await conn.fetchrow(
        "SELECT * FROM saved_searches WHERE id = $1 AND user_id = $2", search_id, user_id
    )


async def delete_search(conn: asyncpg.Connection, user_id: UUID, search_id: UUID) -> bool:
    status = await conn.execute(
        "DELETE FROM saved_searches WHERE id = $1 AND user_id = $2", search_id, user_id
    )
    return status.endswith(" 1")
