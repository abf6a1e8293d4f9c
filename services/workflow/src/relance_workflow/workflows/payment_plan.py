"""The payment plan workflow: one per plan (id `payment-plan-{plan_id}`), F-37.

Each instalment is judged at its date (the first business hour after its due day). Paid
(what the plan's items were paid since the plan started covers the instalments due so
far) → it waits for the next; the last one paid completes the plan. Missed → it waits the
grace period (PAYMENT_PLAN_GRACE_DAYS) and checks again; still missed → the plan is
broken: its items go back to the scenario and the collector gets a follow-up call on the
dossier. While the plan holds, its items are out of the scenario: the dossier workflow is
told to plan again when the plan starts and when it ends."""

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

from relance_workflow.workflows.common import SeenEvents, run_activity

with workflow.unsafe.imports_passed_through():
    from relance import search_attributes as sa
    from relance.contracts import payment_plan as contract
    from relance.contracts.dossier import (
        FOLLOW_UP_OPENED,
        ITEMS_CHANGED,
        FollowUpOpened,
        ItemsChanged,
    )
    from relance.contracts.payment_plan import (
        InstalmentCheckRequest,
        InstalmentCheckResult,
        PaymentPlanStatus,
        PaymentPlanWorkflowInput,
        PlanCancelled,
        PlanSchedule,
    )
    from relance.workflow_ids import dossier_workflow_id

ENDED = ("completed", "broken", "cancelled")


@workflow.defn(name=contract.WORKFLOW_TYPE)
class PaymentPlanWorkflow:
    @workflow.init
    def __init__(self, input: PaymentPlanWorkflowInput) -> None:
        self._input = input
        self._seen = SeenEvents(input.seen_event_ids)
        self._cancelled = False
        self._status = PaymentPlanStatus(state="watching")

    @workflow.query(name=contract.STATUS.name)
    def status(self) -> PaymentPlanStatus:
        return self._status

    @workflow.signal(name=contract.CANCELLED.name)
    def cancelled(self, signal: PlanCancelled) -> None:
        if self._seen.first_time(signal.event_id):
            self._cancelled = True

    async def _dossier_signal(self, name: str, arg: Any) -> None:
        handle = workflow.get_external_workflow_handle(dossier_workflow_id(self._input.dossier_id))
        try:
            await handle.signal(name, arg)
        except Exception:  # noqa: BLE001 - no running dossier workflow: nothing to re-plan
            workflow.logger.info("no dossier workflow to tell", extra={"signal": name})

    async def _tell_dossier(self, what: str) -> None:
        """The plan's items leave or re-enter the scenario: the dossier plans again."""
        await self._dossier_signal(ITEMS_CHANGED.name,
                                   ItemsChanged(event_id=f"payment-plan-{self._input.plan_id}-{what}"))

    async def _sleep_until_or_cancelled(self, delay: timedelta) -> None:
        if delay <= timedelta(0):
            return
        try:
            await workflow.wait_condition(lambda: self._cancelled, timeout=delay)
        except TimeoutError:
            pass

    async def _check(self, seq: int, grace_over: bool) -> InstalmentCheckResult:
        result: InstalmentCheckResult = await run_activity(
            contract.CHECK_INSTALMENT,
            InstalmentCheckRequest(plan_id=self._input.plan_id, seq=seq, grace_over=grace_over,
                                   follow_up_id=workflow.uuid4()),
            self._input.dossier_task_queue,
        )
        return result

    async def _watch(self, schedule: PlanSchedule) -> str:
        grace = timedelta(days=self._input.grace_days)
        for checkpoint in schedule.instalments:
            self._status.state, self._status.next_check_at = "watching", checkpoint.check_at
            workflow.upsert_search_attributes([sa.NEXT_ACTION_AT.value_set(checkpoint.check_at)])
            await self._sleep_until_or_cancelled(checkpoint.check_at - workflow.now())
            if self._cancelled:
                return "cancelled"
            result = await self._check(checkpoint.seq, grace_over=False)
            if result.outcome == "missed":
                self._status.state = "grace"
                self._status.next_check_at = workflow.now() + grace
                workflow.upsert_search_attributes(
                    [sa.NEXT_ACTION_AT.value_set(self._status.next_check_at)])
                await self._sleep_until_or_cancelled(grace)
                if self._cancelled:
                    return "cancelled"
                result = await self._check(checkpoint.seq, grace_over=True)
            if result.outcome == "broken":
                if result.follow_up_id is not None:
                    await self._dossier_signal(FOLLOW_UP_OPENED.name, FollowUpOpened(
                        event_id=f"payment-plan-{self._input.plan_id}-broken",
                        intervention_id=result.follow_up_id, origin="plan_follow_up"))
                return "broken"
            if result.outcome in ("completed", "cancelled"):
                return result.outcome
            self._status.instalments_paid += 1
        return "completed"  # no instalment (the API refuses such a plan)

    @workflow.run
    async def run(self, input: PaymentPlanWorkflowInput) -> str:
        # Codes and dates only (no personal data).
        attributes: list[SearchAttributeUpdate[Any]] = []
        if input.client_code:
            attributes.append(sa.CLIENT_CODE.value_set(input.client_code))
        if input.collector_code:
            attributes.append(sa.COLLECTOR.value_set(input.collector_code))
        if attributes:
            workflow.upsert_search_attributes(attributes)
        schedule: PlanSchedule = await run_activity(
            contract.PLAN_SCHEDULE, input.plan_id, input.dossier_task_queue)
        if schedule.state != "active":
            self._status.state = schedule.state
            return schedule.state  # a redelivered start of a plan that already ended
        await self._tell_dossier("started")
        outcome = await self._watch(schedule)
        self._status.state, self._status.next_check_at = outcome, None
        workflow.upsert_search_attributes([sa.NEXT_ACTION_AT.value_unset()])
        if outcome != "broken":  # a broken plan's follow-up signal already re-planned
            await self._tell_dossier("ended")
        return outcome
