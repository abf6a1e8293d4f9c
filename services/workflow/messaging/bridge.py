"""The signal bridge: Kafka events become workflow starts and signals.

`dossier.opened` → signal-with-start of the dossier workflow (business-key id, so a
redelivered event lands on the same workflow); `communication.*` and `item.*` → signals.
Each signal carries the event id and the workflow ignores ids it has seen, so at-least-once
delivery applies every event once. Messages are acknowledged after the signal is accepted."""

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from relance import topics
from relance.events import (
    CommunicationFailed,
    CommunicationSent,
    DossierOpened,
    EventEnvelope,
)
from relance.workflow_ids import dossier_workflow_id
from relance_workflow.models import CommunicationOutcome, DossierWorkflowInput, ItemsChanged
from relance_workflow.workflows.dossier import DossierWorkflow

BRIDGE_GROUP = "workflow-bridge"
BRIDGE_TOPICS = (topics.DOSSIER_EVENTS, topics.COMMUNICATION_EVENTS, topics.ITEM_EVENTS)


class SignalBridge:
    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    async def handle(self, envelope: EventEnvelope) -> None:
        if envelope.event_type == DossierOpened.event_type:
            opened = envelope.payload_as(DossierOpened)
            if opened.kind == "active":
                await self._start_dossier(opened, envelope)
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
        elif envelope.event_type.startswith("item.") and envelope.event_type != "item.created":
            dossier_id = envelope.payload.get("dossier_id")
            if dossier_id:
                await self._signal(dossier_id, DossierWorkflow.items_changed,
                                   ItemsChanged(event_id=str(envelope.event_id)))

    async def _start_dossier(self, opened: DossierOpened, envelope: EventEnvelope) -> None:
        await self._client.start_workflow(
            DossierWorkflow.run,
            DossierWorkflowInput(
                dossier_id=opened.dossier_id, client_id=opened.client_id,
                client_code=opened.client_code, scenario_code=opened.scenario_code,
                seen_event_ids=[str(envelope.event_id)],
            ),
            id=dossier_workflow_id(opened.dossier_id),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            start_signal="items_changed",
            start_signal_args=[ItemsChanged(event_id=str(envelope.event_id))],
        )

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
