"""The late-fee run (F-38): one workflow per dossier service (id
`late-fee-run-{dossier task queue}`), started by the workflow service. It sleeps until
the next run (LATE_FEE_RUN_DAY of the month at the business hour, asked of the dossier
service, whose settings say), charges the fees owed up to that day to the clients whose
policy has `auto_charge`, then continues as new for the next month, carrying what the
run charged for its status query.

A run that keeps failing (the dossier service down for hours) is given up after its
retries and said in the log: the next month's run charges the same interest days and
indemnities then (charging goes from the last day charged), so nothing is lost, only
late."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from relance_workflow.workflows.common import run_activity

with workflow.unsafe.imports_passed_through():
    from relance import search_attributes as sa
    from relance.contracts import late_fees as contract
    from relance.contracts.late_fees import (
        LateFeeRunMoment,
        LateFeeRunRequest,
        LateFeeRunResult,
        LateFeeRunStatus,
        LateFeeRunWorkflowInput,
    )

# A run over a million clients takes a while; its heartbeat says it is alive.
RUN_TIMEOUT = timedelta(hours=12)
RUN_HEARTBEAT = timedelta(minutes=2)
RUN_RETRIES = RetryPolicy(initial_interval=timedelta(seconds=5),
                          maximum_interval=timedelta(minutes=5), maximum_attempts=20)


@workflow.defn(name=contract.WORKFLOW_TYPE)
class LateFeeRunWorkflow:
    @workflow.init
    def __init__(self, input: LateFeeRunWorkflowInput) -> None:
        self._status = LateFeeRunStatus(state="waiting", last_run=input.last_run)

    @workflow.query(name=contract.STATUS.name)
    def status(self) -> LateFeeRunStatus:
        return self._status

    async def _charge(self, input: LateFeeRunWorkflowInput, moment: LateFeeRunMoment) -> LateFeeRunResult | None:
        try:
            result: LateFeeRunResult = await workflow.execute_activity(
                contract.CHARGE.name, LateFeeRunRequest(on=moment.on),
                task_queue=input.dossier_task_queue, result_type=contract.CHARGE.result,
                start_to_close_timeout=RUN_TIMEOUT, heartbeat_timeout=RUN_HEARTBEAT,
                retry_policy=RUN_RETRIES,
            )
        except ActivityError:
            workflow.logger.error("late-fee run given up; the next run charges these fees",
                                  extra={"on": moment.on.isoformat()})
            return None
        return result

    @workflow.run
    async def run(self, input: LateFeeRunWorkflowInput) -> None:
        moment: LateFeeRunMoment = await run_activity(
            contract.NEXT_RUN, workflow.now(), input.dossier_task_queue)
        self._status.next_run = moment
        workflow.upsert_search_attributes([sa.NEXT_ACTION_AT.value_set(moment.at)])
        delay = moment.at - workflow.now()
        if delay > timedelta(0):
            await workflow.sleep(delay)
        self._status.state = "charging"
        result = await self._charge(input, moment)
        workflow.continue_as_new(LateFeeRunWorkflowInput(
            dossier_task_queue=input.dossier_task_queue, last_run=result or input.last_run))
