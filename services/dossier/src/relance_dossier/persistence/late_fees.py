"""SQL of late fees and interest (F-38): every figure is computed in the database over
the client's items, with the rule of `domain.late_fees` written as SQL expressions.

`figures_cte` gives one row per late invoice of a client on a day: its policy (the
client's, else its segment's, else the defaults), the interest not yet charged and the
indemnity if it was never charged. Reads (`late_fee_items`, `late_fee_totals`), the
charge (`charge`) and the figures carried in a notifier command (`command_late_fees`)
all use it."""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from functools import lru_cache
from uuid import UUID

import asyncpg

from relance.audit import record_audit
from relance.events import CommunicationLateFee, ItemCreated
from relance.outbox import write_events
from relance_dossier.domain.late_fees import (
    FEE_KIND,
    INDEMNITY_PREFIX,
    INTEREST_PREFIX,
    LateFeePolicy,
    indemnity_sql,
    interest_sql,
)
from relance_dossier.settings import Settings


def defaults_from(settings: Settings) -> LateFeePolicy:
    return LateFeePolicy(
        enabled=settings.late_fees_enabled, interest_rate=settings.late_interest_rate,
        indemnity_amount=settings.recovery_indemnity_amount,
        indemnity_currencies=tuple(c.strip().upper() for c in settings.recovery_indemnity_currencies),
        auto_charge=settings.late_fees_auto_charge,
    )


@lru_cache(maxsize=1)
def configured_defaults() -> LateFeePolicy:
    """The defaults of this process's settings, read once (for the builders of notifier
    commands, which run in the API and in the activities alike)."""
    return defaults_from(Settings())


# The client's policy, else its segment's, else the defaults, field by field; `{defaults}`
# are the parameters of the defaults' enabled, rate, indemnity amount and auto_charge.
_POLICY = """
    SELECT c.id AS client_id,
           COALESCE(pc.enabled, ps.enabled, {enabled}::boolean) AS enabled,
           COALESCE(pc.interest_rate, ps.interest_rate, {rate}::numeric) AS interest_rate,
           COALESCE(pc.indemnity_amount, ps.indemnity_amount, {amount}::numeric) AS indemnity_amount,
           COALESCE(pc.auto_charge, ps.auto_charge, {auto}::boolean) AS auto_charge,
           CASE WHEN pc.scope IS NOT NULL THEN 'client'
                WHEN ps.scope IS NOT NULL THEN 'segment' ELSE 'default' END AS source
    FROM clients c
    LEFT JOIN late_fee_policies pc ON pc.scope = 'client' AND pc.scope_key = c.code
    LEFT JOIN late_fee_policies ps ON ps.scope = 'segment' AND ps.scope_key = c.segment
"""

# $1 client id, $2 the day, $3 enabled, $4 rate, $5 indemnity amount, $6 currencies;
# `{items}` narrows the items (e.g. to a command's). (auto_charge, the run's concern, is
# not a parameter here.)
_FIGURES = """
policy AS (""" + _POLICY.format(enabled="$3", rate="$4", amount="$5", auto="NULL") + """
    WHERE c.id = $1
),
late AS (
    SELECT i.id, i.number, i.currency, i.due_date, i.open_amount, i.dossier_id,
           GREATEST(i.due_date, ch.charged_through) AS interest_from,
           COALESCE(ch.indemnity_charged, false) AS indemnity_charged
    FROM items i
    LEFT JOIN LATERAL (
        SELECT max(f.interest_to) AS charged_through,
               bool_or(f.kind = 'indemnity') AS indemnity_charged
        FROM late_fee_charges f WHERE f.invoice_id = i.id
    ) ch ON true
    WHERE i.client_id = $1 AND i.kind = 'invoice' AND i.open_amount > 0 AND i.due_date < $2
      -- Not charged while disputed or litigated (F-15), nor while an agency holds it
      -- (F-27): the days still count from the due date once it is back.
      AND i.status IS DISTINCT FROM 'dispute' AND i.status IS DISTINCT FROM 'litigation'
      AND i.dossier_id = (SELECT d.id FROM dossiers d WHERE d.client_id = $1 AND d.kind = 'active')
      {items}
),
figures AS (
    SELECT l.*, p.enabled, p.interest_rate, p.source,
           ($2::date - l.due_date) AS days_late,
           GREATEST($2::date - l.interest_from, 0) AS interest_days,
           {interest} AS interest,
           {indemnity} AS indemnity
    FROM late l CROSS JOIN policy p
)
"""


def figures_cte(only_items: bool = False) -> str:
    """The WITH clause; with `only_items`, $7 is the uuid[] of the items to consider."""
    return "WITH " + _FIGURES.format(
        items="AND i.id = ANY($7::uuid[])" if only_items else "",
        interest=interest_sql("l.open_amount", "p.interest_rate",
                              "GREATEST($2::date - l.interest_from, 0)", "p.enabled"),
        indemnity=indemnity_sql("p.indemnity_amount", "l.currency", "$6::text[]",
                                "l.indemnity_charged", "p.enabled"),
    )


def _args(client_id: UUID, on: date, defaults: LateFeePolicy) -> list:
    return [client_id, on, defaults.enabled, defaults.interest_rate, defaults.indemnity_amount,
            list(defaults.indemnity_currencies)]


async def policy_of(conn: asyncpg.Connection, client_id: UUID, defaults: LateFeePolicy) -> asyncpg.Record:
    return await conn.fetchrow(
        figures_cte() + "SELECT enabled, interest_rate, indemnity_amount,"
        " COALESCE(auto_charge, $7) AS auto_charge, source FROM policy",
        *_args(client_id, date.today(), defaults), defaults.auto_charge,
    )


async def late_fee_items(conn: asyncpg.Connection, client_id: UUID, on: date,
                         defaults: LateFeePolicy) -> list[asyncpg.Record]:
    return await conn.fetch(
        figures_cte() + "SELECT id AS item_id, number, currency, due_date, open_amount, days_late,"
        " interest_from, interest_days, interest, indemnity, indemnity_charged FROM figures"
        " ORDER BY due_date, number",
        *_args(client_id, on, defaults),
    )


async def late_fee_totals(conn: asyncpg.Connection, client_id: UUID, on: date,
                          defaults: LateFeePolicy) -> list[asyncpg.Record]:
    return await conn.fetch(
        figures_cte() + "SELECT currency, round(sum(interest), 2) AS interest,"
        " round(sum(indemnity), 2) AS indemnity,"
        " round(sum(interest + indemnity), 2) AS total, count(*) AS late_invoices"
        " FROM figures GROUP BY currency ORDER BY currency",
        *_args(client_id, on, defaults),
    )


async def command_late_fees(
    conn: asyncpg.Connection, client_id: UUID, item_ids: Sequence[UUID | str] | None,
    dossier_id: UUID | None, timezone: str, defaults: LateFeePolicy,
) -> list[CommunicationLateFee]:
    """The fees per currency of a message's items on today's date (in `timezone`), for the
    `#late_interest` and `#recovery_indemnity` tags: the named items, or every open item of
    `dossier_id` when `item_ids` is None (as `command_items`)."""
    on = await conn.fetchval("SELECT (now() AT TIME ZONE $1)::date", timezone)
    if item_ids is None:
        ids = await conn.fetchval(
            "SELECT COALESCE(array_agg(id), '{}') FROM items WHERE client_id = $1"
            " AND dossier_id = $2 AND open_amount <> 0", client_id, dossier_id,
        )
    else:
        ids = [UUID(str(i)) for i in item_ids]
    rows = await conn.fetch(
        figures_cte(only_items=True) + "SELECT currency, round(sum(interest), 2) AS interest,"
        " round(sum(indemnity), 2) AS indemnity FROM figures"
        " GROUP BY currency HAVING sum(interest) > 0 OR sum(indemnity) > 0 ORDER BY currency",
        *_args(client_id, on, defaults), ids,
    )
    return [CommunicationLateFee(**dict(r)) for r in rows]


async def charge(conn: asyncpg.Connection, *, client_id: UUID, dossier_id: UUID, on: date,
                 defaults: LateFeePolicy, actor: str, comment: str | None) -> list[asyncpg.Record]:
    """Add the fees owed on `on` as items of kind 'fee' in the active dossier, in one
    statement: an indemnity per late invoice that never had one, and the interest of the
    days not yet charged (interest_from, on]. Idempotent: charging again the same day
    adds nothing. Call inside a transaction, the client locked."""
    rows = await conn.fetch(
        figures_cte() + f"""
, wanted AS (
    SELECT gen_random_uuid() AS fee_id, f.id AS invoice_id, 'indemnity' AS kind,
           '{INDEMNITY_PREFIX}' || f.number AS fee_number, f.indemnity AS amount, f.currency,
           NULL::date AS interest_from, NULL::date AS interest_to
    FROM figures f WHERE f.indemnity > 0
    UNION ALL
    SELECT gen_random_uuid(), f.id, 'interest',
           '{INTEREST_PREFIX}' || f.number || '-' || to_char($2::date, 'YYYYMMDD'),
           f.interest, f.currency, f.interest_from, $2::date
    FROM figures f WHERE f.interest > 0
),
fee_items AS (
    INSERT INTO items (id, client_id, dossier_id, kind, number, issue_date, due_date, amount,
                       open_amount, currency, status_comment)
    SELECT w.fee_id, $1, $7, '{FEE_KIND}', w.fee_number, $2, $2, w.amount, w.amount, w.currency,
           CASE w.kind WHEN 'indemnity' THEN 'recovery indemnity' ELSE
               'late-payment interest ' || w.interest_from || ' – ' || w.interest_to END
    FROM wanted w
    ON CONFLICT (client_id, kind, number) DO NOTHING
    RETURNING id
),
charged AS (
    INSERT INTO late_fee_charges (item_id, invoice_id, kind, interest_from, interest_to,
                                  amount, currency, charged_by)
    SELECT w.fee_id, w.invoice_id, w.kind, w.interest_from, w.interest_to, w.amount,
           w.currency, $8
    FROM wanted w JOIN fee_items fi ON fi.id = w.fee_id
    RETURNING item_id, invoice_id, kind, interest_from, interest_to, amount, currency
)
SELECT c.*, w.fee_number, i.number AS invoice_number
FROM charged c JOIN wanted w ON w.fee_id = c.item_id JOIN items i ON i.id = c.invoice_id
ORDER BY i.due_date, i.number, c.kind
""",
        *_args(client_id, on, defaults), dossier_id, actor,
    )
    if rows:
        await write_events(conn, [
            ItemCreated(
                item_id=r["item_id"], client_id=client_id, dossier_id=dossier_id,
                number=r["fee_number"], kind=FEE_KIND, due_date=on, amount=r["amount"],
                open_amount=r["amount"], currency=r["currency"],
            ).envelope(aggregate_id=r["item_id"], client_id=client_id, actor=actor)
            for r in rows
        ])
        await record_audit(
            conn, client_id=client_id, actor=actor, action="charge_late_fees", entity="client",
            entity_id=str(client_id), comment=comment,
            details={"on": on.isoformat(), "fees": [
                {"number": r["fee_number"], "amount": str(r["amount"]), "currency": r["currency"]}
                for r in rows]},
        )
    return rows


async def auto_charged_clients(conn: asyncpg.Connection, *, on: date, after: UUID | None,
                               defaults: LateFeePolicy, limit: int) -> list[asyncpg.Record]:
    """The late-fee run's next clients, in id order after `after`: fees enabled and
    `auto_charge` in their policy, and an invoice of their active dossier late on `on`."""
    return await conn.fetch(
        "WITH policy AS (" + _POLICY.format(enabled="$3", rate="NULL", amount="NULL", auto="$4")
        + " WHERE c.id > $2)"
        " SELECT p.client_id, d.id AS dossier_id FROM policy p"
        " JOIN dossiers d ON d.client_id = p.client_id AND d.kind = 'active'"
        " WHERE p.enabled AND p.auto_charge AND EXISTS (SELECT 1 FROM items i"
        "   WHERE i.client_id = p.client_id AND i.dossier_id = d.id AND i.kind = 'invoice'"
        "   AND i.open_amount > 0 AND i.due_date < $1)"
        " ORDER BY p.client_id LIMIT $5",
        on, after or UUID(int=0), defaults.enabled, defaults.auto_charge, limit,
    )


# ---- policies ---------------------------------------------------------------------------


async def policies(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM late_fee_policies ORDER BY scope, scope_key")


async def put_policy(conn: asyncpg.Connection, *, scope: str, key: str, enabled: bool,
                     interest_rate: Decimal | None, indemnity_amount: Decimal | None,
                     auto_charge: bool | None, actor: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        "INSERT INTO late_fee_policies (scope, scope_key, enabled, interest_rate,"
        " indemnity_amount, auto_charge, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (scope, scope_key) DO UPDATE SET enabled = EXCLUDED.enabled,"
        " interest_rate = EXCLUDED.interest_rate, indemnity_amount = EXCLUDED.indemnity_amount,"
        " auto_charge = EXCLUDED.auto_charge,"
        " updated_by = EXCLUDED.updated_by, updated_at = now() RETURNING *",
        scope, key, enabled, interest_rate, indemnity_amount, auto_charge, actor,
    )
    await record_audit(conn, client_id=None, actor=actor, action="set", entity="late_fee_policy",
                       entity_id=f"{scope}:{key}",
                       details={"enabled": enabled, "interest_rate": str(interest_rate),
                                "indemnity_amount": str(indemnity_amount),
                                "auto_charge": auto_charge})
    return row


async def delete_policy(conn: asyncpg.Connection, scope: str, key: str, actor: str) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM late_fee_policies WHERE scope = $1 AND scope_key = $2 RETURNING true",
        scope, key,
    )
    if deleted:
        await record_audit(conn, client_id=None, actor=actor, action="delete",
                           entity="late_fee_policy", entity_id=f"{scope}:{key}")
    return bool(deleted)
