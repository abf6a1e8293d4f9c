"""Side effects of the dossier workflow: each activity is one transaction, idempotent
under retries (it first looks for what an earlier attempt already committed)."""

from uuid import UUID, uuid5

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from relance.events import (
    CommunicationItem,
    CommunicationRequested,
    InterventionCompleted,
    InterventionCreated,
)
from relance.outbox import write_events
from relance.scenarios import SENDING_ACTIONS, Scenario, StepMode
from relance_workflow.domain.planning import ChaseableItem, next_step
from relance_workflow.models import (
    CompleteInterventionRequest,
    OpenInterventionRequest,
    OpenInterventionResult,
    PlannedStepOut,
    PlanRequest,
)


def communication_id_for(intervention_id: UUID) -> UUID:
    return uuid5(intervention_id, "communication")


class DossierActivities:
    def __init__(self, pool: asyncpg.Pool, timezone: str, business_hour: int) -> None:
        self._pool = pool
        self._timezone = timezone
        self._business_hour = business_hour

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
                type="ScenarioNotFound",
                non_retryable=True,
            )
        return Scenario(code=row["code"], version=row["version"], name=row["name"], steps=row["steps"])

    @activity.defn
    async def plan_next_step(self, request: PlanRequest) -> PlannedStepOut:
        async with self._pool.acquire() as conn:
            dossier = await conn.fetchrow(
                "SELECT d.id, d.client_id, c.scenario_code, k.code AS collector_code"
                " FROM dossiers d JOIN clients c ON c.id = d.client_id"
                " LEFT JOIN collectors k ON k.id = c.collector_id WHERE d.id = $1",
                request.dossier_id,
            )
            if dossier is None:
                raise ApplicationError(
                    f"no dossier {request.dossier_id}", type="DossierNotFound", non_retryable=True
                )
            scenario = await self._scenario(
                conn, request.scenario_code or dossier["scenario_code"], request.scenario_version
            )
            rows = await conn.fetch(
                "SELECT id, kind, due_date, open_amount, status, dossier_id = $2 AS in_active"
                " FROM items WHERE client_id = $1",
                dossier["client_id"], request.dossier_id,
            )
        items = [
            ChaseableItem(
                item_id=str(r["id"]), kind=r["kind"], due_date=r["due_date"],
                open_amount=r["open_amount"], status=r["status"],
                under_specific_action=False, in_active_dossier=r["in_active"],
            )
            for r in rows
        ]
        planned = next_step(
            scenario, items, request.completed_steps, request.previous_completed_at,
            timezone=self._timezone, hour=self._business_hour,
        )
        out = PlannedStepOut(
            scenario_code=scenario.code, scenario_version=scenario.version,
            collector_code=dossier["collector_code"],
        )
        if planned is not None:
            out.step_index = planned.step_index
            out.step = planned.step
            out.due_at = planned.due_at
            out.item_ids = [UUID(i) for i in planned.item_ids]
        return out

    @activity.defn
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
                items = await conn.fetch(
                    "SELECT number, kind, issue_date, due_date, amount, open_amount, currency"
                    " FROM items WHERE id = ANY($1::uuid[]) ORDER BY due_date, number",
                    request.item_ids,
                )
                events.append(
                    CommunicationRequested(
                        communication_id=communication_id, client_id=dossier["client_id"],
                        client_code=dossier["code"], client_name=dossier["name"],
                        channel=request.step.action_type.value,
                        template_code=request.step.template_code or "",
                        locale=dossier["locale"], dossier_id=request.dossier_id,
                        intervention_id=request.intervention_id,
                        items=[CommunicationItem(**dict(i)) for i in items],
                    ).envelope(aggregate_id=communication_id, client_id=dossier["client_id"])
                )
            await write_events(conn, events)
        return OpenInterventionResult(
            intervention_id=request.intervention_id, communication_id=communication_id
        )

    @activity.defn
    async def complete_intervention(self, request: CompleteInterventionRequest) -> bool:
        """Mark an intervention Done or Skipped; False if it already was."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "UPDATE interventions SET status = $2, completed_at = now(),"
                " comment = COALESCE($3, comment) WHERE id = $1 AND status = 'todo'"
                " RETURNING dossier_id, client_id",
                request.intervention_id, request.status, request.comment,
            )
            if row is None:
                return False
            await write_events(
                conn,
                [
                    InterventionCompleted(
                        intervention_id=request.intervention_id, dossier_id=row["dossier_id"],
                        client_id=row["client_id"], status=request.status,
                    ).envelope(aggregate_id=request.intervention_id, client_id=row["client_id"])
                ],
            )
        return True


