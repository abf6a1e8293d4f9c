"""SQL of the exports (F-40), read through a server-side cursor in chunks so that an export
of a million clients never holds them all in memory. Totals per currency (F-43) are rows
of the same query (GROUPING SETS), flagged `is_total`, after the detail rows."""

from collections.abc import AsyncIterator
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

from relance_dossier.domain.aging import AGING_BUCKETS, bucket_case_sql
from relance_dossier.domain.assignment import ClientCriteria
from relance_dossier.persistence.search import Visibility, _where

CHUNK_ROWS = 2000

# F-1: invoices and fees add to what is owed; credit notes and payments subtract.
SIGNED_OPEN = "CASE WHEN i.kind IN ('invoice', 'fee') THEN i.open_amount ELSE -i.open_amount END"


def search_query(criteria: ClientCriteria, codes: list[str] | None,
                 visibility: Visibility) -> tuple[str, list[Any]]:
    """One row per client and currency of its open items (a client owing nothing: one row,
    no currency, balance 0), ordered by client code; then a total per currency."""
    where = _where(criteria, codes, visibility)
    sql = (
        "SELECT GROUPING(c.code) = 1 AS is_total, c.code, max(c.name) AS name,"
        " max(c.country) AS country, max(c.segment) AS segment, max(c.category) AS category,"
        " max(c.risk) AS risk, max(k.code) AS collector_code, b.currency,"
        " COALESCE(sum(b.balance), 0)::numeric(18,2) AS balance"
        " FROM clients c LEFT JOIN collectors k ON k.id = c.collector_id"
        f" LEFT JOIN LATERAL (SELECT i.currency, sum({SIGNED_OPEN}) AS balance FROM items i"
        "  WHERE i.client_id = c.id AND i.open_amount <> 0 GROUP BY i.currency) b ON true"
        f" WHERE {where.sql()}"
        " GROUP BY GROUPING SETS ((c.code, b.currency), (b.currency))"
        " HAVING GROUPING(c.code) = 0 OR b.currency IS NOT NULL"
        " ORDER BY GROUPING(c.code), c.code, b.currency"
    )
    return sql, where.args


def aging_query(criteria: ClientCriteria, visibility: Visibility, on: date) -> tuple[str, list[Any]]:
    """F-36 buckets per client and currency of its open items on `on`, then per currency."""
    where = _where(criteria, None, visibility)
    on_parameter = f"${len(where.args) + 1}"
    bucket = bucket_case_sql("i.due_date", on_parameter)
    sums = ", ".join(
        f"sum({SIGNED_OPEN}) FILTER (WHERE {bucket} = '{b.key}')::numeric(18,2) AS {b.key}"
        for b in AGING_BUCKETS
    )
    sql = (
        "SELECT GROUPING(c.code) = 1 AS is_total, c.code, max(c.name) AS name,"
        f" max(k.code) AS collector_code, i.currency, {sums},"
        f" sum({SIGNED_OPEN})::numeric(18,2) AS total"
        " FROM clients c JOIN items i ON i.client_id = c.id AND i.open_amount <> 0"
        " LEFT JOIN collectors k ON k.id = c.collector_id"
        f" WHERE {where.sql()}"
        " GROUP BY GROUPING SETS ((c.code, i.currency), (i.currency))"
        " ORDER BY GROUPING(c.code), c.code, i.currency"
    )
    return sql, [*where.args, on]


def statement_query(client_id: UUID) -> tuple[str, list[Any]]:
    """A client's open items by currency and due date, each with the running balance of its
    currency; then the total open balance per currency."""
    sql = (
        "SELECT false AS is_total, i.number, i.kind, i.issue_date, i.due_date, i.currency,"
        " i.amount, i.open_amount,"
        f" (sum({SIGNED_OPEN}) OVER (PARTITION BY i.currency ORDER BY i.due_date, i.number, i.id))"
        "::numeric(18,2) AS balance"
        " FROM items i WHERE i.client_id = $1 AND i.open_amount <> 0"
        " UNION ALL"
        " SELECT true, NULL, NULL, NULL, NULL, i.currency, NULL, NULL,"
        f" sum({SIGNED_OPEN})::numeric(18,2)"
        " FROM items i WHERE i.client_id = $1 AND i.open_amount <> 0 GROUP BY i.currency"
        " ORDER BY 1, 6, 5, 2"
    )
    return sql, [client_id]


async def chunks(pool: asyncpg.Pool, sql: str, args: list[Any],
                 size: int = CHUNK_ROWS) -> AsyncIterator[list[asyncpg.Record]]:
    """The query's rows, `size` at a time, from a cursor in one read-only transaction (one
    consistent snapshot for the whole file)."""
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        cursor = await conn.cursor(sql, *args)
        while rows := await cursor.fetch(size):
            yield rows


async def first_rows(conn: asyncpg.Connection, sql: str, args: list[Any], limit: int,
                     offset: int) -> list[asyncpg.Record]:
    """One page of the query (the JSON form of the aging report)."""
    n = len(args)
    return await conn.fetch(f"{sql} LIMIT ${n + 1} OFFSET ${n + 2}", *args, limit, offset)
