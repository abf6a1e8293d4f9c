"""SQL of the collection KPIs (F-36): every figure is a sum made by the database over
the clients the caller may see and the filters they gave; nothing is summed in Python.

Every query takes the same first five parameters (`Scope.args`): the collectors whose
clients the caller may see (none: every client), then the collector, segment, country
and currency filters. An item's signed open amount follows the balance (F-1): invoices
add, credit notes and unallocated payments subtract. An item without an issue date is
taken as issued on its due date, or on the day it was recorded if that came first."""

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

from relance_dossier.domain.aging import bucket_case_sql

SCOPE = """
scope AS NOT MATERIALIZED (
    SELECT c.id, c.collector_id FROM clients c
    WHERE ($1::uuid[] IS NULL OR c.collector_id = ANY($1))
      AND ($2::uuid IS NULL OR c.collector_id = $2)
      AND ($3::text IS NULL OR c.segment = $3)
      AND ($4::text IS NULL OR c.country = $4)
),
scoped_items AS NOT MATERIALIZED (
    SELECT i.id, i.client_id, i.kind, i.currency, i.due_date, i.amount, i.open_amount,
           i.status, i.status_since, i.updated_at,
           COALESCE(i.issue_date, LEAST(i.due_date, i.created_at::date)) AS issued,
           CASE WHEN i.kind IN ('invoice', 'fee') THEN 1 ELSE -1 END AS sign
    FROM items i JOIN scope c ON c.id = i.client_id
    WHERE ($5::text IS NULL OR i.currency = $5)
)"""

# Payments with a date, applied to items: by imports (F-3) and reported by agencies (F-30).
DATED_PAYMENTS = """
dated_payments AS (
    SELECT item_id, paid_on AS paid_on, applied_amount AS amount FROM import_payments
    UNION ALL
    SELECT item_id, collected_on, applied FROM transfer_payments WHERE item_id IS NOT NULL
)"""


@dataclass(frozen=True)
class Scope:
    visible_collectors: list[UUID] | None
    collector_id: UUID | None
    segment: str | None
    country: str | None
    currency: str | None

    @property
    def args(self) -> tuple[Any, ...]:
        return (self.visible_collectors, self.collector_id, self.segment, self.country,
                self.currency)


AGING = f"""
WITH {SCOPE}
SELECT currency, {bucket_case_sql("due_date", "$6")} AS bucket,
       sum(sign * open_amount)::numeric(18,2) AS amount
FROM scoped_items WHERE open_amount <> 0
GROUP BY 1, 2 ORDER BY 1, 2
"""

# Receivables at the end of a day D: what the items issued by D still owe today, plus what
# was paid on them after D ($6 = the period's first day, so the opening is the evening
# before it; $7 = its last day). Current receivables: those not yet due at D.
RECEIVABLES = f"""
WITH {SCOPE}, {DATED_PAYMENTS},
paid_after AS (
    SELECT p.item_id,
           COALESCE(sum(p.amount) FILTER (WHERE p.paid_on >= $6), 0) AS after_opening,
           COALESCE(sum(p.amount) FILTER (WHERE p.paid_on > $7), 0) AS after_closing
    FROM dated_payments p JOIN scoped_items i ON i.id = p.item_id
    WHERE p.paid_on >= $6
    GROUP BY p.item_id
)
SELECT i.currency,
       COALESCE(sum(i.sign * (i.open_amount + COALESCE(p.after_opening, 0)))
                FILTER (WHERE i.issued < $6), 0)::numeric(18,2) AS opening,
       COALESCE(sum(i.sign * (i.open_amount + COALESCE(p.after_closing, 0)))
                FILTER (WHERE i.issued <= $7), 0)::numeric(18,2) AS closing,
       COALESCE(sum(i.sign * (i.open_amount + COALESCE(p.after_closing, 0)))
                FILTER (WHERE i.issued <= $7 AND i.due_date >= $7), 0)::numeric(18,2)
           AS closing_current,
       COALESCE(sum(i.amount) FILTER (WHERE i.kind = 'invoice' AND i.issued BETWEEN $6 AND $7),
                0)::numeric(18,2) AS credit_sales
FROM scoped_items i LEFT JOIN paid_after p ON p.item_id = i.id
GROUP BY 1 ORDER BY 1
"""

# Invoiced sales of each month of the countback ($6 first days, $7 last days, most recent
# first; `k` is the month's rank from 1).
COUNTBACK_SALES = f"""
WITH {SCOPE},
months AS (SELECT * FROM unnest($6::date[], $7::date[]) WITH ORDINALITY AS m(first, last, k)),
-- Summed per day first, so each month is matched with days rather than with items.
daily AS (
    SELECT currency, issued, sum(amount) AS sales FROM scoped_items
    WHERE kind = 'invoice' AND issued BETWEEN (SELECT min(first) FROM months)
                                          AND (SELECT max(last) FROM months)
    GROUP BY 1, 2
)
SELECT d.currency, m.k, sum(d.sales)::numeric(18,2) AS sales
FROM daily d JOIN months m ON d.issued BETWEEN m.first AND m.last
GROUP BY 1, 2 ORDER BY 1, 2
"""

# F-12: promises to pay due in the period, judged on their date by the dossier's workflow
# (outcome kept / broken; none yet: pending). A promise is in the currency of its items.
PROMISES = f"""
WITH {SCOPE}
SELECT COALESCE(i.currency, 'EUR') AS currency,
       count(*) AS made,
       count(*) FILTER (WHERE p.outcome = 'kept') AS kept,
       count(*) FILTER (WHERE p.outcome = 'broken') AS broken,
       count(*) FILTER (WHERE p.outcome IS NULL) AS pending,
       COALESCE(sum(p.promise_amount), 0)::numeric(18,2) AS promised_amount,
       COALESCE(sum(p.promise_amount) FILTER (WHERE p.outcome = 'kept'), 0)::numeric(18,2)
           AS kept_amount
FROM interventions p
JOIN scope c ON c.id = p.client_id
LEFT JOIN items i ON i.id = (p.details->'item_ids'->>0)::uuid
WHERE p.origin = 'promise' AND p.promise_date BETWEEN $6 AND $7
  AND ($5::text IS NULL OR COALESCE(i.currency, 'EUR') = $5)
GROUP BY 1 ORDER BY 1
"""

# Items in dispute or litigation (F-15) that still owe something, aged from the day
# they took that status.
DISPUTES = f"""
WITH {SCOPE}
SELECT currency, count(*) AS items, count(DISTINCT client_id) AS clients,
       sum(sign * open_amount)::numeric(18,2) AS amount,
       round(avg($6::date - COALESCE(status_since, updated_at::date)), 1) AS average_age_days,
       max($6::date - COALESCE(status_since, updated_at::date)) AS oldest_age_days
FROM scoped_items
WHERE status IN ('dispute', 'litigation') AND open_amount <> 0
GROUP BY 1 ORDER BY 1
"""

# F-27..F-30: transfers made in the period and what the agencies recovered in it. What
# was handed over is what the items owe today plus what agencies collected on them.
TRANSFERS = f"""
WITH {SCOPE},
handed AS (
    SELECT t.id AS transfer_id, t.created_at::date AS transferred_on, i.id AS item_id,
           i.currency, i.sign, i.open_amount
    FROM transfers t JOIN scope c ON c.id = t.client_id
    CROSS JOIN LATERAL unnest(t.item_ids) AS handed_item(id)
    JOIN scoped_items i ON i.id = handed_item.id
),
recovered AS (
    SELECT tp.transfer_id, tp.item_id, sum(tp.applied) AS applied,
           COALESCE(sum(tp.applied) FILTER (WHERE tp.collected_on BETWEEN $6 AND $7), 0)
               AS applied_in_period
    FROM transfer_payments tp JOIN handed h ON h.transfer_id = tp.transfer_id
                                         AND h.item_id = tp.item_id
    GROUP BY 1, 2
)
SELECT h.currency,
       count(DISTINCT h.transfer_id) FILTER (WHERE h.transferred_on BETWEEN $6 AND $7)
           AS transfers,
       COALESCE(sum(h.sign * h.open_amount + COALESCE(r.applied, 0))
                FILTER (WHERE h.transferred_on BETWEEN $6 AND $7), 0)::numeric(18,2)
           AS transferred,
       COALESCE(sum(r.applied_in_period), 0)::numeric(18,2) AS recovered
FROM handed h LEFT JOIN recovered r ON r.transfer_id = h.transfer_id AND r.item_id = h.item_id
GROUP BY 1 ORDER BY 1
"""

# Per collector (F-4, F-14): the clients in their portfolio and what they owe, the actions
# due in the period and how many are done, what was collected in the period.
COLLECTOR_PORTFOLIOS = f"""
WITH {SCOPE}
SELECT k.code AS collector_code, k.name AS collector_name, count(*) AS clients
FROM scope c JOIN collectors k ON k.id = c.collector_id
GROUP BY 1, 2 ORDER BY 1
"""

COLLECTOR_OUTSTANDING = f"""
WITH {SCOPE}
SELECT k.code AS collector_code, i.currency, sum(i.sign * i.open_amount)::numeric(18,2) AS amount
FROM scoped_items i JOIN clients c ON c.id = i.client_id JOIN collectors k ON k.id = c.collector_id
WHERE i.open_amount <> 0
GROUP BY 1, 2 ORDER BY 1, 2
"""

COLLECTOR_ACTIONS = f"""
WITH {SCOPE},
actions AS (
    SELECT client_id, status = 'done' AS done FROM interventions
    WHERE status <> 'skipped' AND due_at >= $6::date AND due_at < $7::date + 1
    UNION ALL
    SELECT client_id, status IN ('done', 'sent') FROM specific_actions
    WHERE status <> 'deleted' AND due_at >= $6::date AND due_at < $7::date + 1
)
SELECT k.code AS collector_code, count(*) AS due, count(*) FILTER (WHERE a.done) AS done
FROM actions a JOIN scope c ON c.id = a.client_id JOIN collectors k ON k.id = c.collector_id
GROUP BY 1 ORDER BY 1
"""

COLLECTOR_COLLECTED = f"""
WITH {SCOPE}, {DATED_PAYMENTS}
SELECT k.code AS collector_code, i.currency, sum(p.amount)::numeric(18,2) AS amount
FROM dated_payments p JOIN scoped_items i ON i.id = p.item_id
JOIN clients c ON c.id = i.client_id JOIN collectors k ON k.id = c.collector_id
WHERE p.paid_on BETWEEN $6 AND $7
GROUP BY 1, 2 ORDER BY 1, 2
"""


async def aging(conn: asyncpg.Connection, scope: Scope, as_of: date) -> list[asyncpg.Record]:
    return await conn.fetch(AGING, *scope.args, as_of)


async def receivables(conn: asyncpg.Connection, scope: Scope, start: date,
                      end: date) -> list[asyncpg.Record]:
    return await conn.fetch(RECEIVABLES, *scope.args, start, end)


async def countback_sales(conn: asyncpg.Connection, scope: Scope,
                          months: list[tuple[date, date]]) -> list[asyncpg.Record]:
    return await conn.fetch(COUNTBACK_SALES, *scope.args, [m[0] for m in months],
                            [m[1] for m in months])


async def in_period(conn: asyncpg.Connection, query: str, scope: Scope, start: date,
                    end: date) -> list[asyncpg.Record]:
    """PROMISES, TRANSFERS, COLLECTOR_ACTIONS, COLLECTOR_COLLECTED: over the period."""
    return await conn.fetch(query, *scope.args, start, end)


async def disputes(conn: asyncpg.Connection, scope: Scope, as_of: date) -> list[asyncpg.Record]:
    return await conn.fetch(DISPUTES, *scope.args, as_of)


async def of_scope(conn: asyncpg.Connection, query: str, scope: Scope) -> list[asyncpg.Record]:
    """COLLECTOR_PORTFOLIOS, COLLECTOR_OUTSTANDING: as they stand."""
    return await conn.fetch(query, *scope.args)
