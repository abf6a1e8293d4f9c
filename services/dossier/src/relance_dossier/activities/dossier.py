"""Side effects of the dossier workflow (F-9 .. F-13), run by the dossier service's worker:
each activity is one transaction, idempotent under retries (it first looks for what an
earlier attempt already committed)."""

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid5

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from relance.audit import record_audit
from relance.contracts import Refusal
from relance.contracts import dossier as contract
from relance.contracts.dossier import (
    CompleteInterventionRequest,
    CreateRequest,
    DeleteRequest,
    EditRequest,
    OpenInterventionRequest,
    OpenInterventionResult,
    PlannedStepOut,
    PlanRequest,
    PrepareRequest,
    PrepareResult,
    PromiseCheckRequest,
    PromiseCheckResult,
)
from relance.events import (
    InterventionCompleted,
    InterventionCreated,
)
from relance.outbox import write_events
from relance.planning import EVERY_DAY, ChaseableItem, eligible_items, next_step
from relance.scenarios import SENDING_ACTIONS, Scenario, StepMode
from relance_dossier.domain.assignment import ClientAttributes, RuleCriteria, needs_balances
from relance_dossier.domain.payment_plans import postponed_by_hold
from relance_dossier.domain.scenarios import scenario_for
from relance_dossier.metrics import INTERVENTIONS_CLOSED, SCENARIO_STEPS_DUE

# The notifier's command has one builder: it resolves the template and the contact
# channels the notifier needs.
from relance_dossier.persistence.communications import communication_command
from relance_dossier.persistence.payment_plans import IN_ACTIVE_PLAN
from relance_dossier.persistence.search import BALANCES_SQL, balances_by_currency


def communication_id_for(intervention_id: UUID) -> UUID:
    return uuid5(intervention_id, "communication")


async def audit(
    conn: asyncpg.Connection, client_id: UUID, actor: str, action: str, intervention_id: UUID,
    comment: str | None = None, details: dict | None = None,
) -> None:
    """F-33: who did what to an intervention, in the transaction of the change."""
    await record_audit(conn, client_id=client_id, actor=actor, action=action,
                       entity="intervention", entity_id=str(intervention_id), comment=comment,
                       details=details)


async def open_amount_of(conn: asyncpg.Connection, item_ids: list[UUID]) -> Decimal:
    return await conn.fetchval(
        "SELECT COALESCE(sum(open_amount), 0) FROM items WHERE id = ANY($1::uuid[])", item_ids)


def promise_kept(*, promised: Decimal | None, open_now: Decimal,
                 open_at_promise: Decimal | None) -> bool:
    """F-12, issue 10: a promise is kept when the amount promised was paid by its date (what
    was open when it was made, less what is open now), or when nothing is left to pay. A
    promise recorded without its opening amount is judged on its items being settled."""
    if open_now <= 0:
        return True
    if promised is None or open_at_promise is None:
        return False
    return open_at_promise - open_now >= promised


async def chaseable_items(conn: asyncpg.Connection, client_id: UUID, dossier_id: UUID) -> list[ChaseableItem]:
    """The client's items with what planning needs to know (F-2, F-15, F-27)."""
    # F-15: items under a pending specific action leave the scenario; F-37: so do the items
    # of an active payment plan, until it is completed, broken or cancelled.
    rows = await conn.fetch(
        "SELECT i.id, i.kind, i.due_date, i.open_amount, i.status,"
        " i.dossier_id = $2 AS in_active, (EXISTS (SELECT 1 FROM specific_action_items"
        " sai JOIN specific_actions a ON a.id = sai.action_id WHERE sai.item_id = i.id"
        " AND a.status IN ('scheduled', 'todo', 'awaiting_confirmation'))"
        f" OR {IN_ACTIVE_PLAN}) AS under_action FROM items i WHERE i.client_id = $1"
        " ORDER BY i.due_date, i.number",
        client_id, dossier_id,
    )
    return [
        ChaseableItem(
            item_id=str(r["id"]), kind=r["kind"], due_date=r["due_date"],
            open_amount=r["open_amount"], status=r["status"],
            under_specific_action=r["under_action"], in_active_dossier=r["in_active"],
        )
        for r in rows
    ]


async def still_eligible(conn: asyncpg.Connection, client_id: UUID, dossier_id: UUID,
                         item_ids: list[UUID]) -> list[UUID]:
    """F-15, issue 10: of a scenario step's items, those it may still chase now (a step
    sends for the eligible items only, whatever changed since it was planned)."""
    eligible = {i.item_id for i in eligible_items(await chaseable_items(conn, client_id, dossier_id))}
    return [i for i in item_ids if str(i) in eligible]


class DossierActivities:
    def __init__(self, pool: asyncpg.Pool, timezone: str, business_hour: int,
                 working_days: frozenset[int] = EVERY_DAY) -> None:
        self._pool = pool
        self._timezone = timezone
        self._business_hour = business_hour
        self._working_days = working_days

    async def _scenario(
        self, conn: asyncpg.Connection, code: str | None, version: int | None
    ) -> Scenario:
        if code is None:
            row = await conn.fetchrow(
                "SELECT * FROM scenarios WHERE is_default ORDER BY version DESC LIMIT 1"
            )
        elif version is None:
            row = await conn.fetchrow(
                "SELECT * FROM scenarios WHERE code = $1 ORDER BY version DESC LIMIT 1", code
            )
        else:
            row = await conn.fetchrow(
                "SELECT * FROM scenarios WHERE code = $1 AND version = $2", code, version
            )
        if row is None:
            raise ApplicationError(
                f"no scenario {code or '(default)'} v{version or 'latest'}",
                type=Refusal.SCENARIO_NOT_FOUND,
                non_retryable=True,
            )
        return Scenario(code=row["code"], version=row["version"], name=row["name"], steps=row["steps"])

    async def _client_scenario(self, conn: asyncpg.Connection, client: asyncpg.Record) -> str | None:
        """F-9: explicit, else the first matching scenario rule, else None (the default)."""
        if client["scenario_code"]:
            return client["scenario_code"]
        rules = [(r["position"], RuleCriteria.model_validate(r["criteria"]), r["scenario_code"])
                 for r in await conn.fetch("SELECT position, criteria, scenario_code FROM scenario_rules")]
        # F-43: a threshold rule reads what the client owes in each currency.
        balances = balances_by_currency(await conn.fetchval(
            f"SELECT {BALANCES_SQL} FROM clients c WHERE c.id = $1", client["client_id"],
        )) if needs_balances([criteria for _, criteria, _ in rules]) else {}
        return scenario_for(
            client["scenario_code"],
            ClientAttributes(country=client["country"], segment=client["segment"],
                             category=client["category"], risk=client["risk"], tags=client["tags"],
                             balances=balances),
            rules,
        )

    @activity.defn(name=contract.PLAN_NEXT_STEP.name)
    async def plan_next_step(self, request: PlanRequest) -> PlannedStepOut:
        async with self._pool.acquire() as conn:
            dossier = await conn.fetchrow(
                "SELECT d.id, d.client_id, c.scenario_code, c.country, c.segment, c.category,"
                " c.risk, c.tags, c.hold_until, k.code AS collector_code"
                " FROM dossiers d JOIN clients c ON c.id = d.client_id"
                " LEFT JOIN collectors k ON k.id = c.collector_id WHERE d.id = $1",
                request.dossier_id,
            )
            if dossier is None:
                raise ApplicationError(
                    f"no dossier {request.dossier_id}", type=Refusal.DOSSIER_NOT_FOUND,
                    non_retryable=True,
                )
            # A running dossier keeps its scenario; a new one gets the client's (F-9).
            scenario_code = request.scenario_code or await self._client_scenario(conn, dossier)
            scenario = await self._scenario(conn, scenario_code, request.scenario_version)
            items = await chaseable_items(conn, dossier["client_id"], request.dossier_id)
            # F-15, issue 10: items put in dispute or under a specific action leave the
            # scenario at once: the open step's items are re-derived on every item change
            # (each one re-plans), until it is prepared.
            await conn.execute(
                "UPDATE interventions SET details = jsonb_set(COALESCE(details, '{}'),"
                " '{item_ids}', to_jsonb($2::text[])) WHERE dossier_id = $1"
                " AND origin = 'scenario' AND status = 'todo' AND prepared_at IS NULL"
                " AND details->'item_ids' IS DISTINCT FROM to_jsonb($2::text[])",
                request.dossier_id, [i.item_id for i in eligible_items(items)],
            )
        planned = next_step(
            scenario, items, request.completed_steps, request.previous_completed_at,
            timezone=self._timezone, hour=self._business_hour, working_days=self._working_days,
        )
        out = PlannedStepOut(
            scenario_code=scenario.code, scenario_version=scenario.version,
            collector_code=dossier["collector_code"],
            business_timezone=self._timezone, business_hour=self._business_hour,
        )
        if planned is not None:
            out.step_index = planned.step_index
            out.step = planned.step
            # F-37: while the client's dunning is on hold the step waits for its end.
            out.due_at = postponed_by_hold(planned.due_at, dossier["hold_until"], self._timezone,
                                           self._business_hour, self._working_days)
            out.item_ids = [UUID(i) for i in planned.item_ids]
        return out

    @activity.defn(name=contract.OPEN_INTERVENTION.name)
    async def open_intervention(self, request: OpenInterventionRequest) -> OpenInterventionResult:
        """F-10: the step becomes an intervention To do; an automatic sending step asks the
        notifier for its communication in the same transaction."""
        sends = request.step.mode is StepMode.AUTOMATIC and request.step.action_type in SENDING_ACTIONS
        communication_id = communication_id_for(request.intervention_id) if sends else None
        async with self._pool.acquire() as conn, conn.transaction():
            existing = await conn.fetchval(
                "SELECT id FROM interventions WHERE id = $1", request.intervention_id
            )
            if existing is not None:
                return OpenInterventionResult(
                    intervention_id=request.intervention_id, communication_id=communication_id
                )
            dossier = await conn.fetchrow(
                "SELECT d.client_id, c.code, c.name, c.locale FROM dossiers d"
                " JOIN clients c ON c.id = d.client_id WHERE d.id = $1",
                request.dossier_id,
            )
            await conn.execute(
                "INSERT INTO interventions (id, dossier_id, client_id, origin, scenario_code,"
                " scenario_version, step_index, action_type, mode, priority, template_code,"
                " due_at, details) VALUES ($1,$2,$3,'scenario',$4,$5,$6,$7,$8,$9,$10,$11,$12)",
                request.intervention_id, request.dossier_id, dossier["client_id"],
                request.scenario_code, request.scenario_version, request.step_index,
                request.step.action_type.value, request.step.mode.value, request.step.priority,
                request.step.template_code, request.due_at,
                {"item_ids": [str(i) for i in request.item_ids], "label": request.step.label},
            )
            events = [
                InterventionCreated(
                    intervention_id=request.intervention_id, dossier_id=request.dossier_id,
                    client_id=dossier["client_id"], action_type=request.step.action_type.value,
                    mode=request.step.mode.value, due_at=request.due_at,
                    step_index=request.step_index,
                ).envelope(aggregate_id=request.intervention_id, client_id=dossier["client_id"])
            ]
            if communication_id is not None:
                command = await communication_command(
                    conn, communication_id=communication_id, client_id=dossier["client_id"],
                    channel=request.step.action_type.value,
                    template_code=request.step.template_code,
                    item_ids=await still_eligible(conn, dossier["client_id"], request.dossier_id,
                                                  request.item_ids),
                    automatic=True, dossier_id=request.dossier_id,
                    intervention_id=request.intervention_id,
                )
                events.append(
                    command.envelope(aggregate_id=communication_id, client_id=dossier["client_id"])
                )
            await write_events(conn, events)
        SCENARIO_STEPS_DUE.labels(request.step.action_type.value, request.step.mode.value).inc()
        return OpenInterventionResult(
            intervention_id=request.intervention_id, communication_id=communication_id
        )

    @activity.defn(name=contract.COMPLETE_INTERVENTION.name)
    async def complete_intervention(self, request: CompleteInterventionRequest) -> bool:
        """Mark an intervention Done or Skipped; False if it already was."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "UPDATE interventions SET status = $2, completed_at = now(),"
                " comment = COALESCE($3, comment) WHERE id = $1 AND status = 'todo'"
                " RETURNING dossier_id, client_id, origin",
                request.intervention_id, request.status, request.comment,
            )
            if row is None:
                return False
            if request.actor is not None:
                await audit(conn, row["client_id"], request.actor, request.status,
                            request.intervention_id, request.comment)
            await write_events(
                conn,
                [
                    InterventionCompleted(
                        intervention_id=request.intervention_id, dossier_id=row["dossier_id"],
                        client_id=row["client_id"], status=request.status,
                    ).envelope(aggregate_id=request.intervention_id, client_id=row["client_id"])
                ],
            )
        INTERVENTIONS_CLOSED.labels(row["origin"], request.status).inc()
        return True

    # ---- collector commands (F-10 .. F-13), run from the workflow's Update handlers ----

    @activity.defn(name=contract.PREPARE_INTERVENTION.name)
    async def prepare_intervention(self, request: PrepareRequest) -> PrepareResult:
        """F-10: execute the planned action of an intervention. A sending step (email,
        letter, SMS) asks the notifier for its communication; the intervention turns Done
        when the notifier reports it sent (a letter: its PDF printed)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT * FROM interventions WHERE id = $1 FOR UPDATE", request.intervention_id
            )
            if row is None or row["status"] != "todo":
                raise ApplicationError(
                    "the intervention is not To do", type=Refusal.INTERVENTION_CLOSED, non_retryable=True
                )
            sends = row["action_type"] in {a.value for a in SENDING_ACTIONS}
            communication_id = (
                (request.communication_id or communication_id_for(row["id"])) if sends else None
            )
            details = row["details"] or {}
            if row["prepared_at"] is not None and details.get("prepared_communication_id") == str(
                communication_id
            ):
                # An earlier attempt of this very Prepare committed.
                return PrepareResult(communication_id=communication_id, status="prepared")
            await conn.execute(
                "UPDATE interventions SET prepared_at = now(), details = details || $2::jsonb"
                " WHERE id = $1", row["id"], {"prepared_communication_id": str(communication_id)},
            )
            if communication_id is not None:
                item_ids = [UUID(i) for i in details.get("item_ids", [])]
                if row["origin"] == "scenario":
                    # F-15, issue 10: the eligible items only, as they are at this Prepare.
                    item_ids = await still_eligible(conn, row["client_id"], row["dossier_id"],
                                                    item_ids)
                    await conn.execute(
                        "UPDATE interventions SET details = details || $2::jsonb WHERE id = $1",
                        row["id"], {"item_ids": [str(i) for i in item_ids]})
                command = await communication_command(
                    conn, communication_id=communication_id, client_id=row["client_id"],
                    channel=row["action_type"], template_code=row["template_code"],
                    item_ids=item_ids, automatic=False,
                    dossier_id=row["dossier_id"], intervention_id=row["id"],
                )
                await write_events(conn, [command.envelope(
                    aggregate_id=communication_id, client_id=row["client_id"], actor=request.actor
                )])
            await audit(conn, row["client_id"], request.actor, "prepare", row["id"])
        return PrepareResult(communication_id=communication_id, status="prepared")

    @activity.defn(name=contract.EDIT_INTERVENTION.name)
    async def edit_intervention(self, request: EditRequest) -> bool:
        edit = request.edit
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "UPDATE interventions SET comment = COALESCE($2, comment),"
                " details = details || COALESCE($3::jsonb, '{}'::jsonb),"
                " due_at = COALESCE($4, due_at) WHERE id = $1 RETURNING client_id",
                edit.intervention_id, edit.comment, edit.details, edit.due_at,
            )
            if row is None:
                raise ApplicationError("no such intervention", type=Refusal.INTERVENTION_NOT_FOUND,
                                       non_retryable=True)
            await audit(conn, row["client_id"], edit.actor, "update", edit.intervention_id,
                        edit.comment, {"details": edit.details or {},
                                       "due_at": edit.due_at.isoformat() if edit.due_at else None})
        return True

    @activity.defn(name=contract.CREATE_INTERVENTION.name)
    async def create_intervention(self, request: CreateRequest) -> bool:
        """F-12: a task, an alert (a reminder at a date) or a promise to pay, by hand."""
        new = request.new
        async with self._pool.acquire() as conn, conn.transaction():
            if await conn.fetchval("SELECT 1 FROM interventions WHERE id = $1", new.intervention_id):
                return True  # an earlier attempt committed
            client_id = await conn.fetchval(
                "SELECT client_id FROM dossiers WHERE id = $1", request.dossier_id
            )
            details: dict = {"item_ids": [str(i) for i in new.item_ids], "label": new.label}
            if new.kind == "promise":
                # Issue 10: a promise is judged on the amount paid by its date; remember what
                # was open when it was made (on its items, else the dossier's open invoices).
                item_ids = list(new.item_ids) or [r["id"] for r in await conn.fetch(
                    "SELECT id FROM items WHERE dossier_id = $1 AND kind = 'invoice'"
                    " AND open_amount > 0", request.dossier_id)]
                details["item_ids"] = [str(i) for i in item_ids]
                details["open_amount_at_promise"] = str(await open_amount_of(conn, item_ids))
            await conn.execute(
                "INSERT INTO interventions (id, dossier_id, client_id, origin, action_type, mode,"
                " priority, due_at, comment, details, created_by, promise_amount, promise_date)"
                " VALUES ($1,$2,$3,$4,$5,'manual',$6,$7,$8,$9,$10,$11::numeric,$12)",
                new.intervention_id, request.dossier_id, client_id, new.kind, new.action_type,
                new.priority, new.due_at, new.comment, details,
                new.actor, new.promise_amount, new.promise_date,
            )
            await write_events(conn, [InterventionCreated(
                intervention_id=new.intervention_id, dossier_id=request.dossier_id,
                client_id=client_id, action_type=new.action_type, mode="manual",
                due_at=new.due_at,
            ).envelope(aggregate_id=new.intervention_id, client_id=client_id, actor=new.actor)])
            await audit(conn, client_id, new.actor, "create", new.intervention_id, new.comment,
                        {"kind": new.kind, "promise_amount": new.promise_amount,
                         "promise_date": str(new.promise_date) if new.promise_date else None})
        return True

    @activity.defn(name=contract.DELETE_INTERVENTION.name)
    async def delete_intervention(self, request: DeleteRequest) -> bool:
        deletion = request.deletion
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT * FROM interventions WHERE id = $1 FOR UPDATE", deletion.intervention_id
            )
            if row is None:
                return False  # an earlier attempt committed
            if row["document"] is not None:
                raise ApplicationError("an intervention with a document is never deleted (F-13)",
                                       type=Refusal.DOCUMENT_ATTACHED, non_retryable=True)
            await conn.execute("DELETE FROM interventions WHERE id = $1", row["id"])
            await audit(conn, row["client_id"], deletion.actor, "delete", row["id"],
                        deletion.comment, {"origin": row["origin"],
                                           "action_type": row["action_type"],
                                           "due_at": row["due_at"].isoformat()})
        return True

    @activity.defn(name=contract.CHECK_PROMISE.name)
    async def check_promise(self, request: PromiseCheckRequest) -> PromiseCheckResult:
        """F-12: on its date a promise is kept when its items are paid, broken otherwise;
        a broken promise opens a follow-up intervention for the collector."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT * FROM interventions WHERE id = $1 FOR UPDATE", request.intervention_id
            )
            if row is None or row["status"] != "todo":
                # Deleted or closed by the collector, or an earlier attempt committed.
                follow_up = await conn.fetchval(
                    "SELECT id FROM interventions WHERE id = $1", request.follow_up_id
                )
                kept = row is not None and row["outcome"] != "broken"
                return PromiseCheckResult(kept=kept, follow_up_id=follow_up)
            details = row["details"] or {}
            item_ids = [UUID(i) for i in details.get("item_ids", [])]
            open_now = await open_amount_of(conn, item_ids)
            at_promise = details.get("open_amount_at_promise")
            kept = promise_kept(
                promised=row["promise_amount"], open_now=open_now,
                open_at_promise=Decimal(at_promise) if at_promise is not None else None,
            )
            await conn.execute(
                "UPDATE interventions SET status = 'done', outcome = $2, completed_at = now()"
                " WHERE id = $1", row["id"], "kept" if kept else "broken",
            )
            events = [InterventionCompleted(
                intervention_id=row["id"], dossier_id=row["dossier_id"],
                client_id=row["client_id"], status="done",
            ).envelope(aggregate_id=row["id"], client_id=row["client_id"])]
            follow_up_id = None
            if not kept:
                follow_up_id = request.follow_up_id
                await conn.execute(
                    "INSERT INTO interventions (id, dossier_id, client_id, origin, action_type,"
                    " mode, priority, due_at, details, created_by) VALUES"
                    " ($1,$2,$3,'promise_follow_up','call','manual',5,now(),$4,'workflow')",
                    follow_up_id, row["dossier_id"], row["client_id"],
                    {"item_ids": [str(i) for i in item_ids], "promise_id": str(row["id"]),
                     "label": "Promesse de règlement non tenue"},
                )
                events.append(InterventionCreated(
                    intervention_id=follow_up_id, dossier_id=row["dossier_id"],
                    client_id=row["client_id"], action_type="call", mode="manual",
                    due_at=datetime.now(UTC),
                ).envelope(aggregate_id=follow_up_id, client_id=row["client_id"]))
            await write_events(conn, events)
            await audit(conn, row["client_id"], "workflow", "promise_kept" if kept else
                        "promise_broken", row["id"], None,
                        {"follow_up_id": str(follow_up_id) if follow_up_id else None})
        INTERVENTIONS_CLOSED.labels(row["origin"], "done").inc()
        return PromiseCheckResult(kept=kept, follow_up_id=follow_up_id)

    def all(self) -> list:
        return [self.plan_next_step, self.open_intervention, self.complete_intervention,
                self.prepare_intervention, self.edit_intervention, self.create_intervention,
                self.delete_intervention, self.check_promise]
