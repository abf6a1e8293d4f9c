"""The signal bridge: Kafka events become workflow starts and signals.

`dossier.opened` → signal-with-start of the dossier workflow (business-key id, so a
redelivered event lands on the same workflow); `communication.*` and `item.*` → signals.
`transfer.created` → start of the transfer workflow (F-27, its window from this service's
settings); `agency.*` → signals to the transfer workflow (F-29, F-31).
`payment_plan.created` → start of the plan's workflow, `payment_plan.cancelled` → its
signal; `dossier.hold_changed` → the dossier re-plans (F-37).
Each signal carries the event id and the workflow ignores ids it has seen, so at-least-once
delivery applies every event once. Messages are acknowledged after the signal is accepted.
A redelivered start whose workflow already ran to its end is a no-op (issue 10, F-27):
the business-key id refuses a second run and the bridge moves on instead of looping."""

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from relance import topics
from relance.contracts.action import ActionWorkflowInput
from relance.contracts.dossier import CommunicationOutcome, DossierWorkflowInput, ItemsChanged
from relance.contracts.payment_plan import PaymentPlanWorkflowInput, PlanCancelled
from relance.contracts.transfer import (
    AgencyCancellationAnswer,
    AgencyMessage,
    AgencyPayment,
    AgencyPlacementAck,
    AgencyStatus,
    TransferWorkflowInput,
    start_search_attributes,
)
from relance.events import (
    AgencyCancellationRefused,
    AgencyCancellationValidated,
    AgencyMessageSent,
    AgencyPaymentCollected,
    AgencyPlacementAcknowledged,
    AgencyStatusUpdated,
    ClientHoldChanged,
    CommunicationFailed,
    CommunicationSent,
    DossierOpened,
    EventEnvelope,
    PaymentPlanCancelled,
    PaymentPlanCreated,
    SpecificActionCreated,
    TransferCreated,
)
from relance.workflow_ids import (
    action_workflow_id,
    dossier_workflow_id,
    payment_plan_workflow_id,
    transfer_workflow_id,
)
from relance_workflow.settings import Settings
from relance_workflow.workflows.action import ActionWorkflow
from relance_workflow.workflows.dossier import DossierWorkflow
from relance_workflow.workflows.payment_plan import PaymentPlanWorkflow
from relance_workflow.workflows.transfer import TransferWorkflow

BRIDGE_GROUP = "workflow-bridge"
BRIDGE_TOPICS = (topics.DOSSIER_EVENTS, topics.COMMUNICATION_EVENTS, topics.ITEM_EVENTS,
                 topics.TRANSFER_EVENTS, topics.AGENCY_EVENTS)


class SignalBridge:
    def __init__(self, client: Client, task_queue: str, settings: Settings | None = None) -> None:
        self._client = client
        self._task_queue = task_queue
        self._settings = settings or Settings()

    async def handle(self, envelope: EventEnvelope) -> None:
        if envelope.event_type == DossierOpened.event_type:
            opened = envelope.payload_as(DossierOpened)
            if opened.kind == "active":
                await self._once(self._start_dossier(opened, envelope))
        elif envelope.event_type == SpecificActionCreated.event_type:
            await self._once(self._start_action_workflow(envelope.payload_as(SpecificActionCreated)))
        elif envelope.event_type == PaymentPlanCreated.event_type:
            await self._once(self._start_payment_plan(envelope.payload_as(PaymentPlanCreated),
                                                      envelope))
        elif envelope.event_type == PaymentPlanCancelled.event_type:
            cancelled = envelope.payload_as(PaymentPlanCancelled)
            handle = self._client.get_workflow_handle(payment_plan_workflow_id(cancelled.plan_id))
            try:
                await handle.signal(PaymentPlanWorkflow.cancelled,
                                    PlanCancelled(event_id=str(envelope.event_id)))
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:  # an ended plan: nothing to stop
                    raise
        elif envelope.event_type == ClientHoldChanged.event_type:
            held = envelope.payload_as(ClientHoldChanged)
            await self._signal(held.dossier_id, DossierWorkflow.items_changed,
                               ItemsChanged(event_id=str(envelope.event_id)))
        elif envelope.event_type == CommunicationSent.event_type:
            sent = envelope.payload_as(CommunicationSent)
            await self._signal_outcome(sent.dossier_id, CommunicationOutcome(
                event_id=str(envelope.event_id), communication_id=sent.communication_id,
                intervention_id=sent.intervention_id, status="sent",
            ))
        elif envelope.event_type == CommunicationFailed.event_type:
            failed = envelope.payload_as(CommunicationFailed)
            await self._signal_outcome(failed.dossier_id, CommunicationOutcome(
                event_id=str(envelope.event_id), communication_id=failed.communication_id,
                intervention_id=failed.intervention_id,
                status="needs_attention" if failed.needs_attention else "failed",
                reason=failed.reason,
            ))
        elif envelope.event_type == TransferCreated.event_type:
            await self._once(self._start_transfer(envelope.payload_as(TransferCreated), envelope))
        elif envelope.event_type.startswith("agency."):
            await self._signal_transfer(envelope)
        elif envelope.event_type.startswith("item.") and envelope.event_type != "item.created":
            dossier_id = envelope.payload.get("dossier_id")
            if dossier_id:
                await self._signal(dossier_id, DossierWorkflow.items_changed,
                                   ItemsChanged(event_id=str(envelope.event_id)))

    @staticmethod
    async def _once(start) -> None:
        """A start of a workflow that already closed (completed, cancelled, continued to
        its end) is refused by REJECT_DUPLICATE: the event was applied by that run, so a
        redelivery has nothing left to do. A running one is found by USE_EXISTING."""
        try:
            await start
        except WorkflowAlreadyStartedError:
            pass  # the entity's workflow already ran to its end: nothing to redo

    async def _start_action_workflow(self, created: SpecificActionCreated) -> None:
        """F-15..F-20: one workflow per specific action; a redelivered event finds it."""
        await self._client.start_workflow(
            ActionWorkflow.run,
            ActionWorkflowInput(
                action_id=created.action_id, client_id=created.client_id,
                dossier_id=created.dossier_id, due_at=created.due_at, mode=created.mode,
                client_code=created.client_code, collector_code=created.collector_code,
                dossier_task_queue=self._settings.temporal_dossier_task_queue,
            ),
            id=action_workflow_id(created.action_id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )

    async def _start_payment_plan(self, created: PaymentPlanCreated,
                                  envelope: EventEnvelope) -> None:
        """F-37: one workflow per payment plan, started from the event written with the
        plan; a redelivered event finds it (or the ended run refuses a second one)."""
        await self._client.start_workflow(
            PaymentPlanWorkflow.run,
            PaymentPlanWorkflowInput(
                plan_id=created.plan_id, client_id=created.client_id,
                dossier_id=created.dossier_id, grace_days=self._settings.payment_plan_grace_days,
                client_code=created.client_code, collector_code=created.collector_code,
                dossier_task_queue=self._settings.temporal_dossier_task_queue,
                seen_event_ids=[str(envelope.event_id)],
            ),
            id=payment_plan_workflow_id(created.plan_id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )

    async def _start_dossier(self, opened: DossierOpened, envelope: EventEnvelope) -> None:
        await self._client.start_workflow(
            DossierWorkflow.run,
            DossierWorkflowInput(
                dossier_id=opened.dossier_id, client_id=opened.client_id,
                client_code=opened.client_code, scenario_code=opened.scenario_code,
                dossier_task_queue=self._settings.temporal_dossier_task_queue,
                seen_event_ids=[str(envelope.event_id)],
            ),
            id=dossier_workflow_id(opened.dossier_id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            start_signal="items_changed",
            start_signal_args=[ItemsChanged(event_id=str(envelope.event_id))],
        )

    async def _start_transfer(self, created: TransferCreated, envelope: EventEnvelope) -> None:
        """F-27: the transfer workflow starts from the event written with the transfer, so
        there is no dual write; a redelivered event lands on the same workflow."""
        start_input = TransferWorkflowInput(
            transfer_id=created.transfer_id, client_id=created.client_id,
            client_code=created.client_code, agency_code=created.agency_code,
            created_at=created.created_at, window_ends_at=created.window_ends_at,
            window_seconds=self._settings.transfer_window_seconds,
            answer_delay_seconds=self._settings.transfer_agency_answer_delay_seconds,
            dossier_task_queue=self._settings.temporal_dossier_task_queue,
            seen_event_ids=[str(envelope.event_id)],
        )
        await self._client.start_workflow(
            TransferWorkflow.run,
            start_input,
            id=transfer_workflow_id(created.transfer_id),
            task_queue=self._task_queue,
            search_attributes=start_search_attributes(start_input),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )

    async def _signal_transfer(self, envelope: EventEnvelope) -> None:
        """What an agency said (through the gateway) goes to its transfer's workflow."""
        event_id, kind = str(envelope.event_id), envelope.event_type
        if kind == AgencyPlacementAcknowledged.event_type:
            ack = envelope.payload_as(AgencyPlacementAcknowledged)
            transfer_id, signal, arg = ack.transfer_id, TransferWorkflow.placement_acknowledged, \
                AgencyPlacementAck(event_id=event_id, agency_reference=ack.agency_reference)
        elif kind == AgencyCancellationValidated.event_type:
            ok = envelope.payload_as(AgencyCancellationValidated)
            transfer_id, signal, arg = ok.transfer_id, TransferWorkflow.cancellation_answered, \
                AgencyCancellationAnswer(event_id=event_id, validated=True, comment=ok.comment)
        elif kind == AgencyCancellationRefused.event_type:
            no = envelope.payload_as(AgencyCancellationRefused)
            transfer_id, signal, arg = no.transfer_id, TransferWorkflow.cancellation_answered, \
                AgencyCancellationAnswer(event_id=event_id, validated=False, comment=no.reason)
        elif kind == AgencyPaymentCollected.event_type:
            paid = envelope.payload_as(AgencyPaymentCollected)
            transfer_id, signal, arg = paid.transfer_id, TransferWorkflow.payment_collected, \
                AgencyPayment(event_id=event_id, payment_id=paid.payment_id,
                              item_number=paid.item_number, amount=paid.amount,
                              collected_on=paid.collected_on)
        elif kind == AgencyStatusUpdated.event_type:
            status = envelope.payload_as(AgencyStatusUpdated)
            transfer_id, signal, arg = status.transfer_id, TransferWorkflow.agency_status_updated, \
                AgencyStatus(event_id=event_id, status=status.status, comment=status.comment)
        elif kind == AgencyMessageSent.event_type:
            message = envelope.payload_as(AgencyMessageSent)
            transfer_id, signal, arg = message.transfer_id, TransferWorkflow.agency_message_sent, \
                AgencyMessage(event_id=event_id, message=message)
        else:
            return
        handle = self._client.get_workflow_handle(transfer_workflow_id(transfer_id))
        try:
            await handle.signal(signal, arg)
        except RPCError as exc:
            # A closed transfer has nothing left to react to.
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise

    async def _signal_outcome(self, dossier_id, outcome: CommunicationOutcome) -> None:
        if dossier_id is not None:
            await self._signal(dossier_id, DossierWorkflow.communication_outcome, outcome)

    async def _signal(self, dossier_id, signal, arg) -> None:
        handle = self._client.get_workflow_handle(dossier_workflow_id(dossier_id))
        try:
            await handle.signal(signal, arg)
        except RPCError as exc:
            # A dossier whose workflow has ended has nothing left to react to.
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
