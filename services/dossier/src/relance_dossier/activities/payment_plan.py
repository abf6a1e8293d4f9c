"""Side effects of the payment plan workflow (F-37), run by the dossier service's worker:
each activity is one transaction, idempotent under retries (it reads the plan's state
first, under a lock)."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
from temporalio import activity

from relance.audit import record_audit
from relance.contracts import payment_plan as contract
from relance.contracts.payment_plan import (
    InstalmentCheckpoint,
    InstalmentCheckRequest,
    InstalmentCheckResult,
    PlanSchedule,
)
from relance.events import InterventionCreated
from relance.outbox import write_events
from relance.planning import business_moment

FOLLOW_UP_LABEL = "Échéancier non respecté"


async def _audit(conn: asyncpg.Connection, client_id: UUID, plan_id: UUID, action: str,
                 details: dict | None = None) -> None:
    await record_audit(conn, client_id=client_id, actor="workflow", action=action,
                       entity="payment_plan", entity_id=str(plan_id), details=details)


class PaymentPlanActivities:
    def __init__(self, pool: asyncpg.Pool, timezone: str, business_hour: int) -> None:
        self._pool = pool
        self._timezone = timezone
        self._business_hour = business_hour

    @activity.defn(name=contract.PLAN_SCHEDULE.name)
    async def payment_plan_schedule(self, plan_id: UUID) -> PlanSchedule:
        """The instalments still to judge, each at the first business hour after its due day
        (the rule of promises to pay, F-12)."""
        async with self._pool.acquire() as conn:
            state = await conn.fetchval("SELECT state FROM payment_plans WHERE id = $1", plan_id)
            rows = await conn.fetch(
                "SELECT seq, due_date FROM payment_plan_instalments WHERE plan_id = $1"
                " AND state <> 'paid' ORDER BY seq", plan_id,
            )
        return PlanSchedule(state=state or "cancelled", instalments=[
            InstalmentCheckpoint(seq=r["seq"], check_at=business_moment(
                r["due_date"] + timedelta(days=1), self._timezone, self._business_hour))
            for r in rows
        ])

    @activity.defn(name=contract.CHECK_INSTALMENT.name)
    async def check_instalment(self, request: InstalmentCheckRequest) -> InstalmentCheckResult:
        """F-37: an instalment is paid when what the plan's items were paid since the plan
        started covers every instalment due so far (payments arrive as the import and ERP
        updates lower the items' open amounts). The last one paid completes the plan; one
        still missed after the grace period breaks it: its items are back in the scenario
        and the collector gets a follow-up call on the dossier."""
        async with self._pool.acquire() as conn, conn.transaction():
            plan = await conn.fetchrow(
                "SELECT * FROM payment_plans WHERE id = $1 FOR UPDATE", request.plan_id)
            if plan is None or plan["state"] == "cancelled":
                return InstalmentCheckResult(outcome="cancelled")
            if plan["state"] == "completed":
                return InstalmentCheckResult(outcome="completed")  # an earlier attempt committed
            if plan["state"] == "broken":
                return InstalmentCheckResult(outcome="broken", follow_up_id=plan["follow_up_id"])
            figures = await conn.fetchrow(
                "SELECT (SELECT COALESCE(sum(ppi.open_amount_at_start - i.open_amount), 0)"
                "   FROM payment_plan_items ppi JOIN items i ON i.id = ppi.item_id"
                "   WHERE ppi.plan_id = $1) AS paid,"
                " (SELECT sum(amount) FROM payment_plan_instalments"
                "   WHERE plan_id = $1 AND seq <= $2) AS due,"
                " (SELECT max(seq) FROM payment_plan_instalments WHERE plan_id = $1) AS last,"
                " (SELECT COALESCE(sum(i.open_amount), 0) FROM payment_plan_items ppi"
                "   JOIN items i ON i.id = ppi.item_id WHERE ppi.plan_id = $1) AS open_now",
                request.plan_id, request.seq,
            )
            if figures["open_now"] <= 0 or figures["paid"] >= plan["total_amount"] or (
                    figures["paid"] >= figures["due"] and request.seq >= figures["last"]):
                await conn.execute(
                    "UPDATE payment_plan_instalments SET state = 'paid', checked_at = now()"
                    " WHERE plan_id = $1 AND state <> 'paid'", request.plan_id)
                await conn.execute(
                    "UPDATE payment_plans SET state = 'completed', ended_at = now() WHERE id = $1",
                    request.plan_id)
                await _audit(conn, plan["client_id"], request.plan_id, "complete",
                             {"paid": str(figures["paid"])})
                return InstalmentCheckResult(outcome="completed")
            if figures["paid"] >= figures["due"]:
                await conn.execute(
                    "UPDATE payment_plan_instalments SET state = 'paid', checked_at = now()"
                    " WHERE plan_id = $1 AND seq <= $2 AND state <> 'paid'",
                    request.plan_id, request.seq)
                return InstalmentCheckResult(outcome="paid")
            await conn.execute(
                "UPDATE payment_plan_instalments SET state = 'missed', checked_at = now()"
                " WHERE plan_id = $1 AND seq = $2", request.plan_id, request.seq)
            if not request.grace_over:
                await _audit(conn, plan["client_id"], request.plan_id, "instalment_missed",
                             {"seq": request.seq, "paid": str(figures["paid"]),
                              "due": str(figures["due"])})
                return InstalmentCheckResult(outcome="missed")
            return InstalmentCheckResult(
                outcome="broken", follow_up_id=await self._break(conn, plan, request, figures))

    async def _break(self, conn: asyncpg.Connection, plan: asyncpg.Record,
                     request: InstalmentCheckRequest, figures: asyncpg.Record) -> UUID:
        """The plan ends broken; its open items are back in the scenario, and a follow-up
        call is To do on the dossier, in the collector's agenda (like a broken promise)."""
        follow_up_id = request.follow_up_id
        item_ids = [str(r["item_id"]) for r in await conn.fetch(
            "SELECT ppi.item_id FROM payment_plan_items ppi JOIN items i ON i.id = ppi.item_id"
            " WHERE ppi.plan_id = $1 AND i.open_amount > 0 ORDER BY i.due_date, i.number",
            plan["id"])]
        await conn.execute(
            "UPDATE payment_plans SET state = 'broken', ended_at = now(), follow_up_id = $2,"
            " end_comment = $3 WHERE id = $1", plan["id"], follow_up_id,
            f"instalment {request.seq} missed after the grace period",
        )
        await conn.execute(
            "INSERT INTO interventions (id, dossier_id, client_id, origin, action_type, mode,"
            " priority, due_at, details, created_by) VALUES"
            " ($1,$2,$3,'plan_follow_up','call','manual',5,now(),$4,'workflow')",
            follow_up_id, plan["dossier_id"], plan["client_id"],
            {"item_ids": item_ids, "payment_plan_id": str(plan["id"]), "label": FOLLOW_UP_LABEL},
        )
        await write_events(conn, [InterventionCreated(
            intervention_id=follow_up_id, dossier_id=plan["dossier_id"],
            client_id=plan["client_id"], action_type="call", mode="manual",
            due_at=datetime.now(UTC),
        ).envelope(aggregate_id=follow_up_id, client_id=plan["client_id"])])
        await _audit(conn, plan["client_id"], plan["id"], "break",
                     {"seq": request.seq, "paid": str(figures["paid"]), "due": str(figures["due"]),
                      "follow_up_id": str(follow_up_id)})
        return follow_up_id

    def all(self) -> list:
        return [self.payment_plan_schedule, self.check_instalment]
