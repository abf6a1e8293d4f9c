"""The specific action workflow: one per action (id `action-{action_id}`), F-15 .. F-20.

It sleeps until the action's date; then, if all the action's items are settled, the
action is deleted (F-20); otherwise an automatic action is sent, a to-confirm one waits
for a collector's confirmation and a manual one for the collector to mark it done.
Collector commands are Updates. While the action is pending its items are out of the
scenario (F-15): the dossier workflow is told to plan again when it starts and ends."""

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

from relance_workflow.workflows.common import rejected, run_activity

with workflow.unsafe.imports_passed_through():
    from relance import search_attributes as sa
    from relance.contracts import Refusal
    from relance.contracts import action as contract
    from relance.contracts.action import (
        ActionCloseRequest,
        ActionCommand,
        ActionDueResult,
        ActionStatus,
        ActionWorkflowInput,
    )
    from relance.contracts.dossier import ITEMS_CHANGED, ItemsChanged
    from relance.workflow_ids import dossier_workflow_id

FINAL = ("sent", "done", "deleted")


@workflow.defn(name=contract.WORKFLOW_TYPE)
class ActionWorkflow:
    @workflow.init
    def __init__(self, input: ActionWorkflowInput) -> None:
        # The input is known before any Update handler runs.
        self._input = input
        self._status = "scheduled"
        self._due_at = input.due_at

    @workflow.query(name=contract.STATUS.name)
    def status(self) -> ActionStatus:
        return ActionStatus(status=self._status, due_at=self._due_at)

    async def _close(self, status: str, command: ActionCommand) -> ActionDueResult:
        result: ActionDueResult = await run_activity(
            contract.CLOSE_ACTION,
            ActionCloseRequest(action_id=self._input.action_id, status=status, actor=command.actor,
                               comment=command.comment),
            self._input.dossier_task_queue,
        )
        self._status = result.status
        return result

    def _require_pending(self) -> None:
        if self._status in FINAL:
            raise rejected(f"the action is already {self._status}", Refusal.ACTION_CLOSED)

    @workflow.update(name=contract.CONFIRM.name)
    async def confirm(self, command: ActionCommand) -> ActionDueResult:
        """F-17: a to-confirm action is sent once a collector validates it."""
        return await self._close("sent", command)

    @confirm.validator
    def _validate_confirm(self, command: ActionCommand) -> None:
        self._require_pending()
        if self._status != "awaiting_confirmation":
            raise rejected("only an action awaiting confirmation on its date can be confirmed",
                            Refusal.NOT_AWAITING_CONFIRMATION)

    @workflow.update(name=contract.DONE.name)
    async def done(self, command: ActionCommand) -> ActionDueResult:
        return await self._close("done", command)

    @done.validator
    def _validate_done(self, command: ActionCommand) -> None:
        self._require_pending()

    @workflow.update(name=contract.DELETE.name)
    async def delete(self, command: ActionCommand) -> ActionDueResult:
        return await self._close("deleted", command)

    @delete.validator
    def _validate_delete(self, command: ActionCommand) -> None:
        if not command.confirm:
            raise rejected("deleting an action must be confirmed (confirm=true)",
                            Refusal.CONFIRMATION_REQUIRED)
        self._require_pending()

    async def _tell_dossier(self, input: ActionWorkflowInput, what: str) -> None:
        """The action's items leave or re-enter the scenario: the dossier plans again."""
        handle = workflow.get_external_workflow_handle(dossier_workflow_id(input.dossier_id))
        try:
            await handle.signal(ITEMS_CHANGED.name,
                                ItemsChanged(event_id=f"action-{input.action_id}-{what}"))
        except Exception:  # noqa: BLE001 - no running dossier workflow: nothing to re-plan
            workflow.logger.info("no dossier workflow to tell", extra={"what": what})

    @workflow.run
    async def run(self, input: ActionWorkflowInput) -> str:
        # Codes and dates only (no personal data): "what is due tomorrow for collector X".
        attributes: list[SearchAttributeUpdate[Any]] = [sa.NEXT_ACTION_AT.value_set(input.due_at)]
        if input.client_code:
            attributes.append(sa.CLIENT_CODE.value_set(input.client_code))
        if input.collector_code:
            attributes.append(sa.COLLECTOR.value_set(input.collector_code))
        workflow.upsert_search_attributes(attributes)
        await self._tell_dossier(input, "started")
        wait = input.due_at - workflow.now()
        if wait > timedelta(0):
            try:
                await workflow.wait_condition(lambda: self._status in FINAL, timeout=wait)
            except TimeoutError:
                pass
        if self._status not in FINAL:
            due: ActionDueResult = await run_activity(
                contract.ACTION_DUE, input.action_id, input.dossier_task_queue
            )
            self._status = due.status
        await workflow.wait_condition(lambda: self._status in FINAL)
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._tell_dossier(input, "closed")
        return self._status
