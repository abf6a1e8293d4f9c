"""The dossier workflow: one per active dossier (id `dossier-{dossier_id}`), running its
dunning scenario (F-9 .. F-13).

It plans the next step (activity), sleeps until the step is due (a durable timer that
item events and collector commands interrupt), opens the intervention, and for a sending
step waits for the notifier's outcome before marking it Done. Collector commands are
Updates: the answer and the scenario's timers are ordered in one history. Promises to
pay wait for their date here too."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

from relance_workflow.workflows.common import SeenEvents, rejected, run_activity

with workflow.unsafe.imports_passed_through():
    from relance import search_attributes as sa
    from relance.contracts import Refusal
    from relance.contracts import dossier as contract
    from relance.contracts.dossier import (
        CommunicationOutcome,
        CompleteInterventionRequest,
        CreateRequest,
        DeleteRequest,
        DossierStatus,
        DossierWorkflowInput,
        EditRequest,
        FollowUpOpened,
        InterventionCommand,
        InterventionCommandResult,
        InterventionDeletion,
        InterventionEdit,
        ItemsChanged,
        NewIntervention,
        NextStepPreview,
        OpenIntervention,
        OpenInterventionRequest,
        PendingPromise,
        PlannedStepOut,
        PlanRequest,
        PrepareNextStep,
        PrepareNextStepResult,
        PrepareRequest,
        PromiseCheckRequest,
    )
    from relance_workflow.domain.interventions import (
        DELETABLE_ORIGINS,
        promise_check_moment,
    )

# Issue 10: a scenario that cannot be planned (unknown code, no default scenario) leaves
# the dossier in needs_attention; planning is tried again at this pace, and at once on any
# item event, so the dossier recovers when the data is fixed.
PLAN_RETRY = timedelta(minutes=15)
UNPLANNABLE = frozenset({Refusal.SCENARIO_NOT_FOUND.value})
# Histories recorded before a stale plan was made again keep their commands on replay.
STALE_PLAN_REPLANNED = "stale-plan-replanned"


@workflow.defn(name=contract.WORKFLOW_TYPE)
class DossierWorkflow:
    @workflow.init
    def __init__(self, input: DossierWorkflowInput) -> None:
        # The state exists before any Update handler or validator runs.
        self._state: DossierWorkflowInput = input.model_copy(deep=True)
        self._seen = SeenEvents(input.seen_event_ids)
        self._replan = False
        self._open_next_now = False
        self._last_opened: UUID | None = None
        # Interventions whose row an activity of this run is writing: visible to readers of
        # the database before this run has applied the activity's result (see _written).
        self._opening: dict[UUID, OpenIntervention] = {}
        self._outcomes: dict[str, CommunicationOutcome] = {}
        self._status = DossierStatus(state="starting")
        self._plan: PlannedStepOut | None = None
        self._plan_retry_at: datetime | None = None  # set while the scenario cannot be planned

    # ---- state helpers --------------------------------------------------------------

    def _set_state(self, state: str, next_action_at: datetime | None = None, collector: str | None = None) -> None:
        """Keep the query answer and the search attributes (for the Temporal UI) in step."""
        self._status.state, self._status.next_action_at = state, next_action_at
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.DOSSIER_STATE.value_set(state),
            sa.NEXT_ACTION_AT.value_set(next_action_at) if next_action_at else sa.NEXT_ACTION_AT.value_unset(),
        ]
        if collector:
            updates.append(sa.COLLECTOR.value_set(collector))
        workflow.upsert_search_attributes(updates)

    def _refresh_status(self) -> None:
        state = self._state
        self._status.completed_steps = state.completed_steps
        self._status.open_interventions = len(state.open_interventions)
        plan = self._plan
        self._status.next_step = (
            NextStepPreview(step_index=plan.step_index, action_type=plan.step.action_type.value,
                            mode=plan.step.mode.value, label=plan.step.label, due_at=plan.due_at)
            if plan and plan.step and plan.step_index is not None and plan.due_at
            and plan.step_index != state.open_step_index
            else None
        )

    def _open(self, intervention_id: UUID) -> OpenIntervention | None:
        return next((o for o in self._state.open_interventions
                     if o.intervention_id == intervention_id), None)

    def _forget(self, intervention_id: UUID) -> OpenIntervention | None:
        """Drop a closed intervention; when it was the scenario's open step, the scenario
        moves on (F-10)."""
        state = self._state
        found = self._open(intervention_id)
        if found is None:
            return None
        state.open_interventions.remove(found)
        if found.origin == "scenario" and found.step_index == state.open_step_index:
            state.completed_steps += 1
            state.previous_completed_at = workflow.now()
            state.open_step_index = None
        self._replan = True
        return found

    def _result(
        self, intervention_id: UUID, status: str, communication_id: UUID | None = None
    ) -> InterventionCommandResult:
        self._refresh_status()
        return InterventionCommandResult(
            intervention_id=intervention_id, status=status, communication_id=communication_id,
            open_interventions=self._status.open_interventions, next_step=self._status.next_step,
            next_step_available=self._status.next_step_available,
        )

    def _business_clock(self) -> tuple[str, int]:
        plan = self._plan
        return ((plan.business_timezone if plan and plan.business_timezone else "Europe/Paris"),
                (plan.business_hour if plan and plan.business_hour is not None else 8))

    @workflow.query(name=contract.STATUS.name)
    def status(self) -> DossierStatus:
        self._refresh_status()
        return self._status

    # ---- signals --------------------------------------------------------------------

    @workflow.signal(name=contract.ITEMS_CHANGED.name)
    def items_changed(self, signal: ItemsChanged) -> None:
        if self._seen.first_time(signal.event_id):
            self._replan = True

    @workflow.signal(name=contract.FOLLOW_UP_OPENED.name)
    def follow_up_opened(self, signal: FollowUpOpened) -> None:
        """F-37: a broken payment plan opened a follow-up for the collector: it is To do on
        this dossier (Done / Skip), and the plan's items are back in the scenario."""
        if not self._seen.first_time(signal.event_id):
            return
        if self._open(signal.intervention_id) is None:
            self._state.open_interventions.append(OpenIntervention(
                intervention_id=signal.intervention_id, origin=signal.origin,
                action_type=signal.action_type,
            ))
        self._replan = True

    @workflow.signal(name=contract.COMMUNICATION_OUTCOME.name)
    def communication_outcome(self, signal: CommunicationOutcome) -> None:
        if self._seen.first_time(signal.event_id) and signal.intervention_id is not None:
            self._outcomes[str(signal.intervention_id)] = signal

    # ---- updates: collector commands (F-10 .. F-13) ------------------------------------

    def _require_open(self, intervention_id: UUID) -> OpenIntervention:
        found = self._open(intervention_id) or self._opening.get(intervention_id)
        if found is None:
            raise rejected("the intervention is not To do on this dossier", Refusal.INTERVENTION_CLOSED)
        return found

    @contextmanager
    def _being_opened(self, intervention: OpenIntervention) -> Iterator[None]:
        """While the activity writing its row runs, commands on it wait (_written)."""
        self._opening[intervention.intervention_id] = intervention
        try:
            yield
        finally:
            del self._opening[intervention.intervention_id]

    async def _written(self, intervention_id: UUID) -> None:
        """A command on an intervention being opened waits until this run knows it: a
        collector who acts on the row the moment it shows is served, not refused."""
        if intervention_id in self._opening:  # else no yield: replays of older runs match
            await workflow.wait_condition(lambda: intervention_id not in self._opening)
        self._require_open(intervention_id)  # its opening may have failed

    @workflow.update(name=contract.PREPARE.name)
    async def prepare(self, command: InterventionCommand) -> InterventionCommandResult:
        """F-10: execute the planned action and show the next step."""
        await self._written(command.intervention_id)
        found = self._require_preparable(command.intervention_id)
        result = await run_activity(
            contract.PREPARE_INTERVENTION,
            PrepareRequest(intervention_id=command.intervention_id, actor=command.actor,
                           communication_id=workflow.uuid4()),
            self._state.dossier_task_queue,
        )
        if result.communication_id is not None:
            found.awaiting_outcome = True
        answer = self._result(command.intervention_id, "todo", result.communication_id)
        if found.origin == "scenario" and answer.next_step is None:
            answer.next_step = await self._preview_after_open_step()
        return answer

    async def _preview_after_open_step(self) -> NextStepPreview | None:
        """F-10: Prepare shows the step that follows the one being prepared."""
        state = self._state
        plan: PlannedStepOut = await run_activity(
            contract.PLAN_NEXT_STEP,
            PlanRequest(
                dossier_id=state.dossier_id, scenario_code=state.scenario_code,
                scenario_version=state.scenario_version,
                completed_steps=state.completed_steps + 1, previous_completed_at=workflow.now(),
            ),
            self._state.dossier_task_queue,
        )
        if plan is None or plan.step is None or plan.step_index is None or plan.due_at is None:
            return None
        return NextStepPreview(step_index=plan.step_index, action_type=plan.step.action_type.value,
                               mode=plan.step.mode.value, label=plan.step.label, due_at=plan.due_at)

    @prepare.validator
    def _validate_prepare(self, command: InterventionCommand) -> None:
        self._require_preparable(command.intervention_id)

    def _require_preparable(self, intervention_id: UUID) -> OpenIntervention:
        found = self._require_open(intervention_id)
        if found.awaiting_outcome:
            raise rejected("the communication was already sent; waiting for its delivery",
                            Refusal.ALREADY_PREPARED)
        return found

    async def _close(self, command: InterventionCommand, status: str) -> InterventionCommandResult:
        await self._written(command.intervention_id)
        await run_activity(
            contract.COMPLETE_INTERVENTION,
            CompleteInterventionRequest(intervention_id=command.intervention_id, status=status,
                                        comment=command.comment, actor=command.actor),
            self._state.dossier_task_queue,
        )
        self._forget(command.intervention_id)
        # Plan before answering, so the closing prompt (F-11) sees the next step.
        await self._plan_now()
        return self._result(command.intervention_id, status)

    @workflow.update(name=contract.DONE.name)
    async def done(self, command: InterventionCommand) -> InterventionCommandResult:
        return await self._close(command, "done")

    @done.validator
    def _validate_done(self, command: InterventionCommand) -> None:
        self._require_open(command.intervention_id)

    @workflow.update(name=contract.SKIP.name)
    async def skip(self, command: InterventionCommand) -> InterventionCommandResult:
        return await self._close(command, "skipped")

    @skip.validator
    def _validate_skip(self, command: InterventionCommand) -> None:
        self._require_open(command.intervention_id)

    @workflow.update(name=contract.EDIT.name)
    async def edit(self, edit: InterventionEdit) -> bool:
        return await run_activity(
            contract.EDIT_INTERVENTION,
            EditRequest(edit=edit),
            self._state.dossier_task_queue,
        )

    @edit.validator
    def _validate_edit(self, edit: InterventionEdit) -> None:
        if edit.comment is None and edit.details is None and edit.due_at is None:
            raise rejected("nothing to change: give a comment, details or a due date",
                            Refusal.NOTHING_TO_CHANGE)

    @workflow.update(name=contract.CREATE.name)
    async def create(self, new: NewIntervention) -> InterventionCommandResult:
        """F-12: by hand: a task, an alert (reminder) or a promise to pay."""
        state = self._state
        await run_activity(
            contract.CREATE_INTERVENTION,
            CreateRequest(dossier_id=state.dossier_id, new=new),
            self._state.dossier_task_queue,
        )
        if self._open(new.intervention_id) is None:
            state.open_interventions.append(OpenIntervention(
                intervention_id=new.intervention_id, origin=new.kind, action_type=new.action_type,
            ))
            if new.kind == "promise" and new.promise_date is not None:
                state.promises.append(PendingPromise(
                    intervention_id=new.intervention_id,
                    # Issue 10: in the business time zone and hour the planning uses.
                    check_at=promise_check_moment(new.promise_date, *self._business_clock()),
                ))
                self._replan = True  # wake the main loop to arm the promise's timer
        return self._result(new.intervention_id, "todo")

    @create.validator
    def _validate_create(self, new: NewIntervention) -> None:
        if new.kind not in ("manual", "alert", "promise"):
            raise rejected("kind must be manual, alert or promise", Refusal.INVALID_KIND)
        if new.kind == "promise" and (new.promise_amount is None or new.promise_date is None):
            raise rejected("a promise to pay needs an amount and a date", Refusal.PROMISE_INCOMPLETE)

    @workflow.update(name=contract.DELETE.name)
    async def delete(self, deletion: InterventionDeletion) -> bool:
        await self._written(deletion.intervention_id)
        await run_activity(
            contract.DELETE_INTERVENTION,
            DeleteRequest(deletion=deletion),
            self._state.dossier_task_queue,
        )
        self._forget(deletion.intervention_id)
        self._state.promises = [p for p in self._state.promises
                                if p.intervention_id != deletion.intervention_id]
        return True

    @delete.validator
    def _validate_delete(self, deletion: InterventionDeletion) -> None:
        if not deletion.confirm:
            raise rejected("deleting an intervention must be confirmed (confirm=true)",
                            Refusal.CONFIRMATION_REQUIRED)
        found = self._require_open(deletion.intervention_id)
        if found.origin not in DELETABLE_ORIGINS:
            raise rejected("a scenario step is skipped, not deleted", Refusal.NOT_DELETABLE)

    @workflow.update(name=contract.PREPARE_NEXT_STEP.name)
    async def prepare_next_step(self, command: PrepareNextStep) -> PrepareNextStepResult:
        """F-11: every intervention is Done: open the next step now, before its date."""
        self._last_opened = None
        self._open_next_now = True
        await workflow.wait_condition(lambda: not self._open_next_now)
        self._refresh_status()
        return PrepareNextStepResult(intervention_id=self._last_opened)

    @prepare_next_step.validator
    def _validate_prepare_next(self, command: PrepareNextStep) -> None:
        if self._state.open_interventions:
            raise rejected("some interventions are still To do", Refusal.INTERVENTIONS_OPEN)
        self._refresh_status()
        if self._status.next_step is None:
            raise rejected("the scenario has no next step for this dossier", Refusal.NO_NEXT_STEP)

    # ---- the main loop ----------------------------------------------------------------

    async def _plan_now(self) -> PlannedStepOut | None:
        state = self._state
        try:
            while True:
                asked = (state.completed_steps, state.previous_completed_at)
                plan: PlannedStepOut = await run_activity(
                    contract.PLAN_NEXT_STEP,
                    PlanRequest(
                        dossier_id=state.dossier_id, scenario_code=state.scenario_code,
                        scenario_version=state.scenario_version,
                        completed_steps=state.completed_steps,
                        previous_completed_at=state.previous_completed_at,
                    ),
                    self._state.dossier_task_queue,
                )
                # F-10: a step closed while this plan was made (a Done on a step just
                # opened) makes it stale: applied, it would open the closed step again.
                stale = asked != (state.completed_steps, state.previous_completed_at)
                if not (stale and workflow.patched(STALE_PLAN_REPLANNED)):
                    break
        except ActivityError as err:
            cause = err.cause
            if not (isinstance(cause, ApplicationError) and cause.type in UNPLANNABLE):
                raise
            # Issue 10: not a failed workflow but a visible state, tried again later.
            self._plan, self._plan_retry_at = None, workflow.now() + PLAN_RETRY
            if state.scenario_version is None:
                # Not started yet: the next try takes the client's scenario as it is then.
                state.scenario_code = None
            self._status.problem = cause.message
            self._set_state("needs_attention", self._plan_retry_at)
            return None
        self._plan_retry_at, self._status.problem = None, None
        # A running dossier keeps the scenario version it started with (F-9).
        state.scenario_code, state.scenario_version = plan.scenario_code, plan.scenario_version
        self._plan = plan
        return plan

    async def _apply_outcomes(self) -> None:
        """The notifier reported a communication: sent closes its intervention (a printed
        letter too, F-10); otherwise it stays To do for the collector."""
        for key in list(self._outcomes):
            outcome = self._outcomes.pop(key)
            found = self._open(UUID(key))
            if found is None:
                continue
            if outcome.status == "sent":
                await run_activity(
                    contract.COMPLETE_INTERVENTION,
                    CompleteInterventionRequest(intervention_id=found.intervention_id, status="done"),
                    self._state.dossier_task_queue,
                )
                self._forget(found.intervention_id)
            else:
                # Not sent (no usable contact, permanent failure): the collector acts.
                found.awaiting_outcome = False
                self._set_state("needs_attention")

    async def _check_due_promises(self) -> None:
        state = self._state
        now = workflow.now()
        for promise in [p for p in state.promises if p.check_at <= now]:
            follow_up = OpenIntervention(intervention_id=workflow.uuid4(),
                                         origin="promise_follow_up", action_type="call")
            with self._being_opened(follow_up):
                result = await run_activity(
                    contract.CHECK_PROMISE,
                    PromiseCheckRequest(intervention_id=promise.intervention_id,
                                        follow_up_id=follow_up.intervention_id),
                    state.dossier_task_queue,
                )
            # Issue 10: a `delete` Update may have dropped this promise while the check ran;
            # remove by id, so the race never raises (nor on any replay of it).
            state.promises = [p for p in state.promises
                              if p.intervention_id != promise.intervention_id]
            found = self._open(promise.intervention_id)
            if found is not None:
                state.open_interventions.remove(found)
            if result.follow_up_id is not None and self._open(result.follow_up_id) is None:
                state.open_interventions.append(follow_up)

    @workflow.run
    async def run(self, input: DossierWorkflowInput) -> None:
        state = self._state
        workflow.upsert_search_attributes([sa.CLIENT_CODE.value_set(input.client_code)])
        self._set_state("active")
        needs_plan = True
        while True:
            await self._apply_outcomes()
            await self._check_due_promises()
            retry_due = self._plan_retry_at is not None and self._plan_retry_at <= workflow.now()
            if needs_plan or self._replan or retry_due or (
                    self._plan is None and self._plan_retry_at is None):
                self._replan = False
                needs_plan = False
                await self._plan_now()
            plan = self._plan
            step_due: datetime | None = (
                plan.due_at if plan is not None and plan.step is not None
                and plan.step_index != state.open_step_index
                else None
            )
            if plan is not None and step_due is not None and (step_due <= workflow.now() or self._open_next_now):
                await self._run_step(plan)
                needs_plan = True
                continue
            if self._open_next_now:
                self._open_next_now = False  # nothing to open: the Update answers None
            deadlines = [d for d in [step_due, self._plan_retry_at,
                                     *(p.check_at for p in state.promises)] if d]
            timeout = min(deadlines) - workflow.now() if deadlines else None
            self._refresh_status()
            if plan is None:
                pass  # needs_attention: the scenario cannot be planned (see _plan_now)
            elif step_due is not None:
                self._set_state("scheduled", step_due, plan.collector_code)
            elif self._status.state != "needs_attention" or not state.open_interventions:
                self._set_state("awaiting" if state.open_interventions else "idle",
                                collector=plan.collector_code)
            try:
                await workflow.wait_condition(
                    lambda: self._replan or self._open_next_now or bool(self._outcomes)
                    or self._should_continue_as_new(),
                    timeout=timeout,
                )
            except TimeoutError:
                pass
            if self._should_continue_as_new():
                # Issue 10: wait for the handlers, but wake for whatever arrives meanwhile (a
                # notifier outcome, an item event, a prepare_next_step that itself waits on
                # this loop), and re-check: nothing is carried over as seen yet unapplied.
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() or not self._should_continue_as_new()
                )
                if self._should_continue_as_new() and workflow.all_handlers_finished():
                    state.seen_event_ids = self._seen.carried()
                    workflow.continue_as_new(state)

    def _should_continue_as_new(self) -> bool:
        # Never with a signal not yet applied: it would be lost with this run's memory.
        return (workflow.info().is_continue_as_new_suggested()
                and not self._outcomes and not self._replan and not self._open_next_now)

    async def _run_step(self, plan: PlannedStepOut) -> None:
        state = self._state
        assert plan.step is not None and plan.step_index is not None and plan.due_at is not None
        intervention_id = workflow.uuid4()
        opening = OpenIntervention(
            intervention_id=intervention_id, origin="scenario",
            action_type=plan.step.action_type.value, step_index=plan.step_index,
        )
        with self._being_opened(opening):
            opened = await run_activity(
                contract.OPEN_INTERVENTION,
                OpenInterventionRequest(
                    intervention_id=intervention_id, dossier_id=state.dossier_id,
                    scenario_code=plan.scenario_code, scenario_version=plan.scenario_version,
                    step_index=plan.step_index, step=plan.step, due_at=plan.due_at,
                    item_ids=plan.item_ids,
                ),
                self._state.dossier_task_queue,
            )
            state.open_step_index = plan.step_index
            opening.awaiting_outcome = opened.communication_id is not None
            state.open_interventions.append(opening)
        self._last_opened = intervention_id
        self._open_next_now = False
        self._set_state("awaiting")
        # Automatic sends wait for the notifier (see _apply_outcomes); to-confirm and manual
        # steps wait for the collector's prepare / done / skip Updates.
