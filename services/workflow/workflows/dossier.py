"""The dossier workflow: one per active dossier (id `dossier-{dossier_id}`), running its
dunning scenario (F-9, F-10).

It plans the next step (activity), sleeps until the step is due (a durable timer that
item events can interrupt to plan again), opens the intervention, and for an automatic
sending step waits for the notifier's outcome before marking it Done."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from relance import search_attributes as sa
    from relance_workflow.activities.dossier import DossierActivities
    from relance_workflow.models import (
        CommunicationOutcome,
        CompleteInterventionRequest,
        DossierWorkflowInput,
        DossierStatus,
        ItemsChanged,
        OpenInterventionRequest,
        PlannedStepOut,
        PlanRequest,
    )

ACTIVITY_OPTIONS = dict(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)),
)
SEEN_EVENTS_KEPT = 500


@workflow.defn
class DossierWorkflow:
    def __init__(self) -> None:
        self._seen: list[str] = []
        self._replan = False
        self._outcomes: dict[str, CommunicationOutcome] = {}
        self._status = DossierStatus(state="starting")

    def _set_state(self, state: str, next_action_at=None, collector: str | None = None) -> None:
        """Keep the query answer and the search attributes (for the Temporal UI) in step."""
        self._status.state, self._status.next_action_at = state, next_action_at
        updates = [
            sa.DOSSIER_STATE.value_set(state),
            sa.NEXT_ACTION_AT.value_set(next_action_at) if next_action_at else sa.NEXT_ACTION_AT.value_unset(),
        ]
        if collector:
            updates.append(sa.COLLECTOR.value_set(collector))
        workflow.upsert_search_attributes(updates)

    @workflow.query
    def status(self) -> DossierStatus:
        return self._status

    def _first_time(self, event_id: str) -> bool:
        """Kafka delivers at least once: a signal carrying a seen event id is ignored."""
        if event_id in self._seen:
            return False
        self._seen.append(event_id)
        del self._seen[:-SEEN_EVENTS_KEPT]
        return True

    @workflow.signal
    def items_changed(self, signal: ItemsChanged) -> None:
        if self._first_time(signal.event_id):
            self._replan = True

    @workflow.signal
    def communication_outcome(self, signal: CommunicationOutcome) -> None:
        if self._first_time(signal.event_id) and signal.intervention_id is not None:
            self._outcomes[str(signal.intervention_id)] = signal

    @workflow.run
    async def run(self, input: DossierWorkflowInput) -> None:
        self._seen = list(input.seen_event_ids)
        state = input.model_copy()
        workflow.upsert_search_attributes([sa.CLIENT_CODE.value_set(input.client_code)])
        self._set_state("active")
        while True:
            plan: PlannedStepOut = await workflow.execute_activity_method(
                DossierActivities.plan_next_step,
                PlanRequest(
                    dossier_id=state.dossier_id, scenario_code=state.scenario_code,
                    scenario_version=state.scenario_version,
                    completed_steps=state.completed_steps,
                    previous_completed_at=state.previous_completed_at,
                ),
                **ACTIVITY_OPTIONS,
            )
            # A running dossier keeps the scenario version it started with (F-9).
            state.scenario_code, state.scenario_version = plan.scenario_code, plan.scenario_version
            self._status.completed_steps = state.completed_steps
            if plan.step is None or plan.due_at is None:
                self._set_state("idle", collector=plan.collector_code)
                # Nothing to do until the items change.
                await workflow.wait_condition(lambda: self._replan or self._should_continue_as_new())
            elif plan.step_index == state.open_step_index:
                # This step's intervention is already open and waits for the collector.
                await workflow.wait_condition(lambda: self._replan or self._should_continue_as_new())
            else:
                self._set_state("scheduled", plan.due_at, plan.collector_code)
                wait = plan.due_at - workflow.now()
                if wait > timedelta(0):
                    try:
                        await workflow.wait_condition(lambda: self._replan, timeout=wait)
                    except TimeoutError:
                        pass
                if not self._replan:
                    await self._run_step(state, plan)
                    continue
            self._replan = False
            if self._should_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                state.seen_event_ids = list(self._seen)
                workflow.continue_as_new(state)

    def _should_continue_as_new(self) -> bool:
        return workflow.info().is_continue_as_new_suggested()

    async def _run_step(self, state: DossierWorkflowInput, plan: PlannedStepOut) -> None:
        assert plan.step is not None and plan.step_index is not None and plan.due_at is not None
        intervention_id = workflow.uuid4()
        opened = await workflow.execute_activity_method(
            DossierActivities.open_intervention,
            OpenInterventionRequest(
                intervention_id=intervention_id, dossier_id=state.dossier_id,
                scenario_code=plan.scenario_code, scenario_version=plan.scenario_version,
                step_index=plan.step_index, step=plan.step, due_at=plan.due_at,
                item_ids=plan.item_ids,
            ),
            **ACTIVITY_OPTIONS,
        )
        state.open_step_index = plan.step_index
        self._set_state("awaiting")
        if opened.communication_id is not None:
            key = str(intervention_id)
            await workflow.wait_condition(lambda: key in self._outcomes)
            outcome = self._outcomes.pop(key)
            if outcome.status == "sent":
                await workflow.execute_activity_method(
                    DossierActivities.complete_intervention,
                    CompleteInterventionRequest(intervention_id=intervention_id, status="done"),
                    **ACTIVITY_OPTIONS,
                )
                state.completed_steps += 1
                state.previous_completed_at = workflow.now()
                state.open_step_index = None
                return
            # Not sent (no usable contact, permanent failure): the intervention stays
            # To do for the collector; the scenario does not move on by itself.
            self._set_state("needs_attention")
        # Manual and to-confirm steps wait for the collector (Updates come with F-10..F-12);
        # the main loop keeps the intervention open and only re-plans on item changes.
