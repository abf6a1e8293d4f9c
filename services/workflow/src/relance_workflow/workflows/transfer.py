"""The transfer workflow: one per transfer dossier (id `transfer-{transfer_id}`),
F-27 … F-30.

The dossier fixes the window's end with the transfer (it comes in the input); the workflow
owns the 24-hour window timer and is the only place where a cancellation is decided
to be immediate (F-28) or a request to the agency (F-29): the `cancel` Update decides with
`workflow.now()` against the window end, in the same history as the timer, so an Update
and the timer can never both win (F-30). When the window ends without a cancellation the
placement goes to the agency; the workflow then follows the agency's answers."""

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from relance_workflow.workflows.common import SeenEvents, run_activity

with workflow.unsafe.imports_passed_through():
    from relance import search_attributes as sa
    from relance.contracts import Refusal
    from relance.contracts import transfer as contract
    from relance.contracts.transfer import (
        AcknowledgePlacementRequest,
        AgencyCancellationAnswer,
        AgencyMessage,
        AgencyPayment,
        AgencyPlacementAck,
        AgencyStatus,
        ApplyPaymentRequest,
        CancellationMode,
        CancelTransfer,
        CancelTransferResult,
        MarkAnswerOverdueRequest,
        PlaceTransferRequest,
        RecordAgencyMessageRequest,
        RecordAgencyStatusRequest,
        RecordWindowRequest,
        RefuseCancellationRequest,
        RequestCancellationRequest,
        ReturnItemsRequest,
        TransferState,
        TransferStatus,
        TransferWorkflowInput,
    )
    from relance_workflow.domain.transfers import (
        CancelRefusal,
        cancellation_mode,
        cancellation_refusal,
        window_ends_at,
    )


@workflow.defn(name=contract.WORKFLOW_TYPE)
class TransferWorkflow:
    @workflow.init
    def __init__(self, input: TransferWorkflowInput) -> None:
        self._input = input
        self._state = input.state
        self._window_end = input.window_ends_at or window_ends_at(
            input.created_at, timedelta(seconds=input.window_seconds))
        self._seen = SeenEvents(input.seen_event_ids)
        self._requested_at = input.cancellation_requested_at
        self._overdue = input.answer_overdue
        self._acknowledged = input.acknowledged or input.state is TransferState.PLACED_ACKNOWLEDGED
        # The cancel command being carried out (set synchronously by the Update handler,
        # before any await, so the window timer sees it in the same workflow task).
        self._cancelling = False
        self._closing_immediately = False
        self._answer: AgencyCancellationAnswer | None = None

    # ---- state, search attributes, queries ------------------------------------------

    def _set_state(self, state: TransferState) -> None:
        self._state = state
        workflow.upsert_search_attributes([sa.TRANSFER_STATE.value_set(state.value)])

    def _set_overdue(self, overdue: bool) -> None:
        self._overdue = overdue
        workflow.upsert_search_attributes([sa.AGENCY_ANSWER_OVERDUE.value_set(overdue)])

    @workflow.query(name=contract.STATUS.name)
    def status(self) -> TransferStatus:
        return TransferStatus(
            state=self._state, window_ends_at=self._window_end,
            cancellation_requested_at=self._requested_at, answer_overdue=self._overdue,
        )

    # ---- the cancel Update (F-28, F-29, F-30) ----------------------------------------

    @workflow.update(name=contract.CANCEL.name)
    async def cancel(self, command: CancelTransfer) -> CancelTransferResult:
        refusal = self._cancel_refusal(command)
        if refusal:  # a concurrent cancel got here first within this workflow task
            raise ApplicationError(refusal.reason, type=refusal.kind.value)
        self._cancelling = True
        try:
            mode = cancellation_mode(workflow.now(), self._window_end)
            if mode is CancellationMode.IMMEDIATE and self._state is TransferState.IN_WINDOW:
                # F-28: the agency never hears of it; the window timer now finds the
                # transfer cancelling and places nothing. Set before any await.
                self._closing_immediately = True
                await run_activity(
                    contract.RETURN_ITEMS,
                    ReturnItemsRequest(transfer_id=self._input.transfer_id, mode="immediate",
                                       comment=command.comment, actor=command.requested_by),
                    self._input.dossier_task_queue,
                )
                self._set_state(TransferState.CLOSED)
                return CancelTransferResult(mode=CancellationMode.IMMEDIATE, state=self._state)
            # F-29: from the window end on, the placement goes out first (the timer may
            # fire in this very task), then the request follows it to the agency.
            mode = CancellationMode.REQUEST
            await workflow.wait_condition(lambda: self._state is not TransferState.IN_WINDOW)
            self._requested_at = workflow.now()
            self._answer = None
            await run_activity(
                contract.REQUEST_CANCELLATION,
                RequestCancellationRequest(
                    transfer_id=self._input.transfer_id, comment=command.comment,
                    requested_by=command.requested_by, requested_at=self._requested_at,
                ),
                self._input.dossier_task_queue,
            )
            self._set_state(TransferState.CANCELLATION_PENDING)
            return CancelTransferResult(mode=mode, state=self._state)
        finally:
            self._cancelling = False
            self._closing_immediately = False

    @cancel.validator
    def _validate_cancel(self, command: CancelTransfer) -> None:
        refusal = self._cancel_refusal(command)
        if refusal:
            raise ApplicationError(refusal.reason, type=refusal.kind.value)

    def _cancel_refusal(self, command: CancelTransfer) -> CancelRefusal | None:
        if self._cancelling:
            return CancelRefusal(Refusal.CANCEL_IN_PROGRESS,
                                 "a cancellation of this transfer is already in progress")
        return cancellation_refusal(self._state, command.comment)

    # ---- agency signals ---------------------------------------------------------------

    @workflow.signal(name=contract.PLACEMENT_ACKNOWLEDGED.name)
    async def placement_acknowledged(self, signal: AgencyPlacementAck) -> None:
        if not self._seen.first_time(signal.event_id) or self._acknowledged:
            return
        self._acknowledged = True
        await run_activity(
            contract.ACKNOWLEDGE_PLACEMENT,
            AcknowledgePlacementRequest(transfer_id=self._input.transfer_id,
                                        agency_reference=signal.agency_reference),
            self._input.dossier_task_queue,
        )
        if self._state is TransferState.PLACED:
            self._set_state(TransferState.PLACED_ACKNOWLEDGED)

    @workflow.signal(name=contract.CANCELLATION_ANSWERED.name)
    def cancellation_answered(self, signal: AgencyCancellationAnswer) -> None:
        if self._seen.first_time(signal.event_id):
            self._answer = signal

    @workflow.signal(name=contract.PAYMENT_COLLECTED.name)
    async def payment_collected(self, signal: AgencyPayment) -> None:
        if not self._seen.first_time(signal.event_id):
            return
        await run_activity(
            contract.APPLY_PAYMENT,
            ApplyPaymentRequest(
                transfer_id=self._input.transfer_id, payment_id=signal.payment_id,
                item_number=signal.item_number, amount=signal.amount,
                collected_on=signal.collected_on,
            ),
            self._input.dossier_task_queue,
        )

    @workflow.signal(name=contract.AGENCY_STATUS_UPDATED.name)
    async def agency_status_updated(self, signal: AgencyStatus) -> None:
        if not self._seen.first_time(signal.event_id):
            return
        await run_activity(
            contract.RECORD_AGENCY_STATUS,
            RecordAgencyStatusRequest(transfer_id=self._input.transfer_id, status=signal.status,
                                      comment=signal.comment),
            self._input.dossier_task_queue,
        )

    @workflow.signal(name=contract.AGENCY_MESSAGE_SENT.name)
    async def agency_message_sent(self, signal: AgencyMessage) -> None:
        """F-41: the agency's message and documents join the transfer's history."""
        if not self._seen.first_time(signal.event_id):
            return
        await run_activity(
            contract.RECORD_AGENCY_MESSAGE, RecordAgencyMessageRequest(message=signal.message),
            self._input.dossier_task_queue,
        )

    # ---- main line ------------------------------------------------------------------

    @workflow.run
    async def run(self, input: TransferWorkflowInput) -> TransferStatus:
        if input.window_ends_at is None:
            # Started before the dossier fixed the window with the transfer: the
            # workflow sets its search attributes and records the end itself, as then.
            workflow.upsert_search_attributes([
                sa.CLIENT_CODE.value_set(input.client_code),
                sa.AGENCY.value_set(input.agency_code),
                sa.TRANSFER_STATE.value_set(self._state.value),
                sa.AGENCY_ANSWER_OVERDUE.value_set(self._overdue),
            ])
            if self._state is TransferState.IN_WINDOW:
                await run_activity(
                    contract.RECORD_WINDOW,
                    RecordWindowRequest(transfer_id=input.transfer_id,
                                        window_ends_at=self._window_end),
                    self._input.dossier_task_queue,
                )
        if self._state is TransferState.IN_WINDOW:
            await self._window()
        while self._state is not TransferState.CLOSED:
            if self._state is TransferState.CANCELLATION_PENDING:
                await self._await_agency_answer()
                continue
            # Placed: wait for a cancellation request (the Update) or a fresh history.
            await workflow.wait_condition(
                lambda: self._state is TransferState.CANCELLATION_PENDING
                or self._should_continue_as_new()
            )
            if self._should_continue_as_new():
                await self._continue_as_new()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.status()

    async def _window(self) -> None:
        """F-28/F-30: wait for the window end unless a cancel comes first; at the end,
        and only if no immediate cancellation is under way or done, place the transfer."""
        remaining = self._window_end - workflow.now()
        if remaining > timedelta(0):
            try:
                await workflow.wait_condition(
                    lambda: self._cancelling or self._state is not TransferState.IN_WINDOW,
                    timeout=remaining,
                )
            except TimeoutError:
                pass
        # An immediate cancellation decided before the window end finishes first.
        await workflow.wait_condition(lambda: not self._closing_immediately)
        if self._state is TransferState.IN_WINDOW and workflow.now() >= self._window_end:
            await run_activity(
                contract.PLACE_TRANSFER,
                PlaceTransferRequest(transfer_id=self._input.transfer_id, placed_at=workflow.now()),
                self._input.dossier_task_queue,
            )
            self._set_state(
                TransferState.PLACED_ACKNOWLEDGED if self._acknowledged else TransferState.PLACED
            )
        elif self._state is TransferState.IN_WINDOW:
            await self._window()  # woken before the end (timer rounding): keep waiting

    async def _await_agency_answer(self) -> None:
        """F-29/F-30: wait for the agency's answer; past the configured delay raise the
        overdue alert once and keep waiting."""
        assert self._requested_at is not None
        overdue_at = self._requested_at + timedelta(seconds=self._input.answer_delay_seconds)
        remaining = overdue_at - workflow.now()
        if not self._overdue and remaining > timedelta(0):
            try:
                await workflow.wait_condition(lambda: self._answer is not None, timeout=remaining)
            except TimeoutError:
                pass
        if self._answer is None and not self._overdue:
            await run_activity(
                contract.MARK_ANSWER_OVERDUE,
                MarkAnswerOverdueRequest(transfer_id=self._input.transfer_id,
                                         requested_at=self._requested_at,
                                         overdue_since=workflow.now()),
                self._input.dossier_task_queue,
            )
            self._set_overdue(True)
        await workflow.wait_condition(
            lambda: self._answer is not None or self._should_continue_as_new()
        )
        if self._answer is None:
            await self._continue_as_new()
            return
        answer, self._answer = self._answer, None
        if answer.validated:
            await run_activity(
                contract.RETURN_ITEMS,
                ReturnItemsRequest(transfer_id=self._input.transfer_id, mode="agency_validated",
                                   comment=answer.comment or "Validated by the agency",
                                   actor=f"agency:{self._input.agency_code}"),
                self._input.dossier_task_queue,
            )
            self._set_state(TransferState.CLOSED)
        else:
            back_to = (TransferState.PLACED_ACKNOWLEDGED if self._acknowledged
                       else TransferState.PLACED)
            await run_activity(
                contract.REFUSE_CANCELLATION,
                RefuseCancellationRequest(transfer_id=self._input.transfer_id,
                                          reason=answer.comment or "Refused by the agency",
                                          state=back_to),
                self._input.dossier_task_queue,
            )
            self._requested_at = None
            self._set_state(back_to)
        if self._overdue:
            self._set_overdue(False)

    def _should_continue_as_new(self) -> bool:
        return workflow.info().is_continue_as_new_suggested()

    async def _continue_as_new(self) -> None:
        """Carry the state over to a fresh history, once no handler is running and no
        agency answer waits to be applied."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._answer is not None:
            return
        # The search attributes carry over with the new run; `window_ends_at` is kept
        # as it was, so a run continued from an old-style one still upserts its own.
        workflow.continue_as_new(self._input.model_copy(update=dict(
            state=self._state, cancellation_requested_at=self._requested_at,
            answer_overdue=self._overdue, acknowledged=self._acknowledged,
            seen_event_ids=self._seen.carried(),
        )))
