"""SQL for payment plans and holds (F-37): a plan with its items and instalments written in
one transaction with the event that starts its workflow (no dual write)."""

from datetime import date
from decimal import Decimal
from uuid import UUID

import asyncpg

from relance.events import ClientHoldChanged, PaymentPlanCancelled, PaymentPlanCreated
from relance.outbox import write_events
from relance_dossier.domain.payment_plans import Instalment, PlanItem
from relance_dossier.persistence.clients import record_audit

# F-37: an item covered by an active plan is out of the scenario (SQL over the plan tables,
# used by the planning of scenario steps; `i` is the items row).
IN_ACTIVE_PLAN = (
    "EXISTS (SELECT 1 FROM payment_plan_items ppi JOIN payment_plans pp ON pp.id = ppi.plan_id"
    " WHERE ppi.item_id = i.id AND pp.state = 'active')"
)


async def plan_items(conn: asyncpg.Connection, client_id: UUID, dossier_id: UUID,
                     item_ids: list[UUID]) -> tuple[list[PlanItem], list[str]]:
    """The selected items of the client, locked (in id order, so two plans on the same items
    never deadlock and exactly one wins), then read again by a statement of its own so that
    it sees what a concurrent plan committed; and the ids that are not the client's items."""
    await conn.execute(
        "SELECT 1 FROM items WHERE client_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR UPDATE",
        client_id, item_ids,
    )
    rows = await conn.fetch(
        f"SELECT i.id, i.number, i.kind, i.open_amount, i.currency, i.dossier_id = $3 AS in_active,"
        f" {IN_ACTIVE_PLAN} AS in_plan FROM items i"
        " WHERE i.client_id = $1 AND i.id = ANY($2::uuid[]) ORDER BY i.due_date, i.number",
        client_id, item_ids, dossier_id,
    )
    found = {r["id"] for r in rows}
    return ([PlanItem(number=r["number"], kind=r["kind"], open_amount=r["open_amount"],
                      currency=r["currency"], in_active_dossier=r["in_active"], in_plan=r["in_plan"])
             for r in rows],
            [str(i) for i in item_ids if i not in found])


async def plan_by_idempotency_key(conn: asyncpg.Connection, client_id: UUID, key: str):
    return await conn.fetchrow(
        "SELECT id, request_hash FROM payment_plans WHERE client_id = $1 AND idempotency_key = $2",
        client_id, key,
    )


async def create_plan(conn: asyncpg.Connection, *, plan_id: UUID, client: asyncpg.Record,
                      dossier_id: UUID, item_ids: list[UUID], instalments: list[Instalment],
                      currency: str, total: Decimal, comment: str | None, actor: str,
                      idempotency_key: str | None = None, request_hash: str | None = None) -> None:
    """F-37: the plan, what each item owes now, its instalments and the event on which the
    workflow service starts the plan's workflow."""
    await conn.execute(
        "INSERT INTO payment_plans (id, client_id, dossier_id, currency, total_amount, comment,"
        " idempotency_key, request_hash, created_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
        plan_id, client["id"], dossier_id, currency, total, comment, idempotency_key,
        request_hash, actor,
    )
    await conn.execute(
        "INSERT INTO payment_plan_items (plan_id, item_id, open_amount_at_start)"
        " SELECT $1, id, open_amount FROM items WHERE id = ANY($2::uuid[])", plan_id, item_ids,
    )
    await conn.execute(
        "INSERT INTO payment_plan_instalments (plan_id, seq, due_date, amount)"
        " SELECT $1, n, d, a FROM unnest($2::date[], $3::numeric[]) WITH ORDINALITY AS t(d, a, n)",
        plan_id, [i.due_date for i in instalments], [i.amount for i in instalments],
    )
    await write_events(conn, [PaymentPlanCreated(
        plan_id=plan_id, client_id=client["id"], dossier_id=dossier_id, item_ids=item_ids,
        instalments=len(instalments), total_amount=total, currency=currency,
        client_code=client["code"], collector_code=client["collector_code"],
    ).envelope(aggregate_id=plan_id, client_id=client["id"], actor=actor)])
    await record_audit(conn, client_id=client["id"], actor=actor, action="create",
                       entity="payment_plan", entity_id=str(plan_id), comment=comment,
                       details={"item_ids": [str(i) for i in item_ids], "total": str(total),
                                "currency": currency,
                                "instalments": [[str(i.due_date), str(i.amount)] for i in instalments]})


# What the card shows of a plan: each instalment with its state, and what was paid on the
# plan's items since it was agreed (computed over the tables).
PLAN_COLUMNS = (
    "p.id, p.state, p.currency, p.total_amount, p.comment, p.created_by, p.created_at,"
    " p.ended_at, p.end_comment, p.follow_up_id,"
    " (SELECT COALESCE(sum(ppi.open_amount_at_start - i.open_amount), 0)::numeric(18,2)"
    "  FROM payment_plan_items ppi JOIN items i ON i.id = ppi.item_id"
    "  WHERE ppi.plan_id = p.id) AS paid_amount,"
    " ARRAY(SELECT item_id FROM payment_plan_items ppi WHERE ppi.plan_id = p.id"
    "  ORDER BY item_id) AS item_ids,"
    " ARRAY(SELECT i.number FROM payment_plan_items ppi JOIN items i ON i.id = ppi.item_id"
    "  WHERE ppi.plan_id = p.id ORDER BY i.due_date, i.number) AS item_numbers,"
    " (SELECT COALESCE(jsonb_agg(jsonb_build_object('seq', s.seq, 'due_date', s.due_date,"
    "  'amount', s.amount::text, 'state', s.state) ORDER BY s.seq), '[]')"
    "  FROM payment_plan_instalments s WHERE s.plan_id = p.id) AS instalments"
)


async def plan(conn: asyncpg.Connection, plan_id: UUID):
    return await conn.fetchrow(
        f"SELECT {PLAN_COLUMNS}, p.client_id, c.code AS client_code, c.collector_id"
        " FROM payment_plans p JOIN clients c ON c.id = p.client_id WHERE p.id = $1", plan_id,
    )


async def plans_of_client(conn: asyncpg.Connection, client_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {PLAN_COLUMNS}, c.code AS client_code FROM payment_plans p"
        " JOIN clients c ON c.id = p.client_id WHERE p.client_id = $1"
        " ORDER BY p.created_at DESC", client_id,
    )


async def cancel_plan(conn: asyncpg.Connection, *, plan_id: UUID, comment: str | None,
                      actor: str) -> str | None:
    """F-37: an active plan ends at once; its items are back in the scenario. Returns the
    plan's state before (None: no such plan)."""
    row = await conn.fetchrow(
        "SELECT client_id, dossier_id, state FROM payment_plans WHERE id = $1 FOR UPDATE", plan_id)
    if row is None:
        return None
    if row["state"] != "active":
        return str(row["state"])
    await conn.execute(
        "UPDATE payment_plans SET state = 'cancelled', ended_at = now(), end_comment = $2"
        " WHERE id = $1", plan_id, comment,
    )
    await write_events(conn, [PaymentPlanCancelled(
        plan_id=plan_id, client_id=row["client_id"], dossier_id=row["dossier_id"], comment=comment,
    ).envelope(aggregate_id=plan_id, client_id=row["client_id"], actor=actor)])
    await record_audit(conn, client_id=row["client_id"], actor=actor, action="cancel",
                       entity="payment_plan", entity_id=str(plan_id), comment=comment)
    return "active"


async def set_hold(conn: asyncpg.Connection, *, client_id: UUID, dossier_id: UUID,
                   until: date | None, reason: str | None, actor: str) -> None:
    """F-37: set (until a date) or lift (None) the hold of the client's dunning; the
    dossier's workflow re-plans on the event."""
    await conn.execute(
        "UPDATE clients SET hold_until = $2, hold_reason = $3,"
        " hold_set_by = CASE WHEN $2::date IS NULL THEN NULL ELSE $4 END,"
        " hold_set_at = CASE WHEN $2::date IS NULL THEN NULL ELSE now() END,"
        " updated_at = now() WHERE id = $1", client_id, until, reason, actor,
    )
    await write_events(conn, [ClientHoldChanged(
        client_id=client_id, dossier_id=dossier_id, hold_until=until, reason=reason,
    ).envelope(aggregate_id=dossier_id, client_id=client_id, actor=actor)])
    await record_audit(conn, client_id=client_id, actor=actor,
                       action="hold" if until else "lift_hold", entity="client",
                       entity_id=str(client_id), comment=reason,
                       details={"until": str(until) if until else None})
