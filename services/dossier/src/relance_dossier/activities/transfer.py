"""Side effects of the transfer workflow (F-27 … F-30), run by the dossier service's
worker: each activity is one transaction
and idempotent under retries (it checks the transfer's state, or a key, before acting),
and writes its events to the outbox in that transaction."""

from typing import Any
from uuid import UUID

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from relance.audit import record_audit
from relance.contracts import Refusal
from relance.contracts import transfer as contract
from relance.contracts.transfer import (
    AcknowledgePlacementRequest,
    ApplyPaymentRequest,
    ApplyPaymentResult,
    MarkAnswerOverdueRequest,
    PlaceTransferRequest,
    RecordAgencyMessageRequest,
    RecordAgencyStatusRequest,
    RecordWindowRequest,
    RefuseCancellationRequest,
    RequestCancellationRequest,
    ReturnItemsRequest,
    TransferState,
)
from relance.events import (
    ItemPaymentApplied,
    ItemsMoved,
    TransferAgencyAnswerOverdue,
    TransferCancellationRefused,
    TransferCancellationRequested,
    TransferCancelled,
    TransferItem,
    TransferPlaced,
)
from relance.outbox import write_events
from relance_dossier.agency_documents import fetch_agency_documents
from relance_dossier.domain.transfers import payment_applied
from relance_dossier.persistence import placements
from relance_dossier.settings import Settings

WORKFLOW_ACTOR = "workflow:transfer"


async def _audit(
    conn: asyncpg.Connection, client_id: UUID, actor: str, action: str, transfer_id: UUID,
    comment: str | None = None, details: dict[str, Any] | None = None,
) -> None:
    """F-33: who, when, what and why, in the transaction of the change."""
    await record_audit(conn, client_id=client_id, actor=actor, action=action,
                       entity="transfer", entity_id=str(transfer_id), comment=comment,
                       details=details)


def _agency(code: str) -> str:
    return f"agency:{code}"


class TransferActivities:
    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings

    @staticmethod
    async def _locked(conn: asyncpg.Connection, transfer_id: UUID) -> asyncpg.Record:
        row = await conn.fetchrow("SELECT * FROM transfers WHERE id = $1 FOR UPDATE", transfer_id)
        if row is None:
            # The dossier API commits the row before the event that starts the workflow;
            # a missing row is a retryable surprise, not a reason to give up.
            raise ApplicationError(f"no transfer {transfer_id}", type=Refusal.TRANSFER_NOT_FOUND)
        return row

    @activity.defn(name=contract.RECORD_WINDOW.name)
    async def record_window(self, request: RecordWindowRequest) -> None:
        """The window end the workflow decided on, for the transfer's detail."""
        async with self._pool.acquire() as conn, conn.transaction():
            await self._locked(conn, request.transfer_id)
            await conn.execute(
                "UPDATE transfers SET window_ends_at = $2 WHERE id = $1",
                request.transfer_id, request.window_ends_at,
            )

    @activity.defn(name=contract.PLACE_TRANSFER.name)
    async def place_transfer(self, request: PlaceTransferRequest) -> bool:
        """The window ended without a cancellation: the placement goes to the gateway
        (TransferPlaced). False if an earlier attempt already placed it."""
        async with self._pool.acquire() as conn, conn.transaction():
            transfer = await self._locked(conn, request.transfer_id)
            if transfer["state"] != TransferState.IN_WINDOW:
                return False
            await conn.execute(
                "UPDATE transfers SET state = 'placed', placed_at = $2 WHERE id = $1",
                request.transfer_id, request.placed_at,
            )
            client = await conn.fetchrow(
                "SELECT code, name FROM clients WHERE id = $1", transfer["client_id"]
            )
            items = await conn.fetch(
                "SELECT id AS item_id, number, kind, issue_date, due_date, amount, open_amount,"
                " currency FROM items WHERE dossier_id = $1 ORDER BY due_date, number",
                request.transfer_id,
            )
            # F-41: the agency gets what it needs to work the file in the placement itself.
            item_documents, account_documents = await placements.documents_by_item(
                conn, transfer["client_id"])
            await write_events(conn, [
                TransferPlaced(
                    transfer_id=request.transfer_id, client_id=transfer["client_id"],
                    client_code=client["code"], client_name=client["name"],
                    agency_code=transfer["agency_code"],
                    items=[TransferItem(**dict(i), documents=item_documents.get(i["item_id"], []))
                           for i in items],
                    opening_comment=transfer["opening_comment"],
                    next_follow_up_date=transfer["next_follow_up_date"],
                    placed_at=request.placed_at,
                    contacts=await placements.validated_contacts(conn, transfer["client_id"]),
                    documents=account_documents,
                    history=await placements.action_history(conn, transfer["client_id"]),
                ).envelope(aggregate_id=request.transfer_id, client_id=transfer["client_id"],
                           actor=WORKFLOW_ACTOR)
            ])
            await _audit(conn, transfer["client_id"], WORKFLOW_ACTOR, "place", request.transfer_id,
                         details={"agency_code": transfer["agency_code"]})
        return True

    @activity.defn(name=contract.RETURN_ITEMS.name)
    async def return_items(self, request: ReturnItemsRequest) -> list[UUID]:
        """F-28 / F-29: the items go back to the active dossier and the transfer dossier
        closes. Returns the items moved (none if an earlier attempt already closed it)."""
        async with self._pool.acquire() as conn, conn.transaction():
            transfer = await self._locked(conn, request.transfer_id)
            if transfer["state"] == TransferState.CLOSED:
                return []
            client_id = transfer["client_id"]
            active_id = await conn.fetchval(
                "SELECT id FROM dossiers WHERE client_id = $1 AND kind = 'active'", client_id
            )
            moved = [r["id"] for r in await conn.fetch(
                "UPDATE items SET dossier_id = $2, updated_at = now() WHERE dossier_id = $1"
                " RETURNING id", request.transfer_id, active_id,
            )]
            await conn.execute(
                "UPDATE dossiers SET state = 'closed', closed_at = now() WHERE id = $1",
                request.transfer_id,
            )
            await conn.execute(
                "UPDATE transfers SET state = 'closed', closed_at = now(), cancellation_mode = $2,"
                " closing_comment = $3, agency_answer_overdue = false WHERE id = $1",
                request.transfer_id, request.mode, request.comment,
            )
            events = [
                TransferCancelled(
                    transfer_id=request.transfer_id, client_id=client_id,
                    agency_code=transfer["agency_code"], mode=request.mode,
                    comment=request.comment, item_ids=moved,
                ).envelope(aggregate_id=request.transfer_id, client_id=client_id,
                           actor=request.actor)
            ]
            if moved:
                events.append(ItemsMoved(
                    client_id=client_id, dossier_id=active_id, from_dossier_id=request.transfer_id,
                    to_dossier_id=active_id, item_ids=moved, reason="transfer_cancelled",
                ).envelope(aggregate_id=active_id, client_id=client_id, actor=request.actor))
            await write_events(conn, events)
            await _audit(conn, client_id, request.actor, f"cancel_{request.mode}",
                         request.transfer_id, comment=request.comment,
                         details={"item_ids": [str(i) for i in moved]})
        return moved

    @activity.defn(name=contract.REQUEST_CANCELLATION.name)
    async def request_cancellation(self, request: RequestCancellationRequest) -> bool:
        """F-29: the items stay; the transfer is flagged cancellation pending and the
        gateway relays the request to the agency."""
        async with self._pool.acquire() as conn, conn.transaction():
            transfer = await self._locked(conn, request.transfer_id)
            if transfer["state"] in (TransferState.CANCELLATION_PENDING, TransferState.CLOSED):
                return False
            await conn.execute(
                "UPDATE transfers SET state = 'cancellation_pending', cancellation_comment = $2,"
                " cancellation_requested_by = $3, cancellation_requested_at = $4,"
                " refusal_reason = NULL, agency_answer_overdue = false WHERE id = $1",
                request.transfer_id, request.comment, request.requested_by, request.requested_at,
            )
            await conn.execute(
                "UPDATE dossiers SET state = 'cancellation_pending' WHERE id = $1",
                request.transfer_id,
            )
            await write_events(conn, [
                TransferCancellationRequested(
                    transfer_id=request.transfer_id, client_id=transfer["client_id"],
                    agency_code=transfer["agency_code"], comment=request.comment,
                    requested_by=request.requested_by, requested_at=request.requested_at,
                ).envelope(aggregate_id=request.transfer_id, client_id=transfer["client_id"],
                           actor=request.requested_by)
            ])
            await _audit(conn, transfer["client_id"], request.requested_by,
                         "request_cancellation", request.transfer_id, comment=request.comment)
        return True

    @activity.defn(name=contract.REFUSE_CANCELLATION.name)
    async def refuse_cancellation(self, request: RefuseCancellationRequest) -> bool:
        """F-29: the agency refused: the flag is cleared and the reason recorded."""
        async with self._pool.acquire() as conn, conn.transaction():
            transfer = await self._locked(conn, request.transfer_id)
            if transfer["state"] != TransferState.CANCELLATION_PENDING:
                return False
            await conn.execute(
                "UPDATE transfers SET state = $2, refusal_reason = $3,"
                " agency_answer_overdue = false WHERE id = $1",
                request.transfer_id, request.state.value, request.reason,
            )
            await conn.execute("UPDATE dossiers SET state = 'open' WHERE id = $1", request.transfer_id)
            await write_events(conn, [
                TransferCancellationRefused(
                    transfer_id=request.transfer_id, client_id=transfer["client_id"],
                    agency_code=transfer["agency_code"], reason=request.reason,
                ).envelope(aggregate_id=request.transfer_id, client_id=transfer["client_id"],
                           actor=_agency(transfer["agency_code"]))
            ])
            await _audit(conn, transfer["client_id"], _agency(transfer["agency_code"]),
                         "refuse_cancellation", request.transfer_id, comment=request.reason)
        return True

    @activity.defn(name=contract.ACKNOWLEDGE_PLACEMENT.name)
    async def acknowledge_placement(self, request: AcknowledgePlacementRequest) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            transfer = await self._locked(conn, request.transfer_id)
            if transfer["acknowledged_at"] is not None:
                return
            await conn.execute(
                "UPDATE transfers SET acknowledged_at = now(), agency_reference = $2,"
                " state = CASE WHEN state = 'placed' THEN 'placed_acknowledged' ELSE state END"
                " WHERE id = $1",
                request.transfer_id, request.agency_reference,
            )
            # F-33: the one audit entry of the acknowledgement (the gateway writes none).
            await _audit(conn, transfer["client_id"], _agency(transfer["agency_code"]),
                         "acknowledge_placement", request.transfer_id,
                         comment=request.agency_reference,
                         details={"agency_reference": request.agency_reference})

    @activity.defn(name=contract.MARK_ANSWER_OVERDUE.name)
    async def mark_answer_overdue(self, request: MarkAnswerOverdueRequest) -> bool:
        """F-30: the agency has not answered the cancellation request in time: an alert
        event, once per request."""
        async with self._pool.acquire() as conn, conn.transaction():
            transfer = await self._locked(conn, request.transfer_id)
            if transfer["state"] != TransferState.CANCELLATION_PENDING or transfer["agency_answer_overdue"]:
                return False
            await conn.execute(
                "UPDATE transfers SET agency_answer_overdue = true WHERE id = $1", request.transfer_id
            )
            await write_events(conn, [
                TransferAgencyAnswerOverdue(
                    transfer_id=request.transfer_id, client_id=transfer["client_id"],
                    agency_code=transfer["agency_code"], requested_at=request.requested_at,
                    overdue_since=request.overdue_since,
                ).envelope(aggregate_id=request.transfer_id, client_id=transfer["client_id"],
                           actor=WORKFLOW_ACTOR)
            ])
        return True

    @activity.defn(name=contract.APPLY_PAYMENT.name)
    async def apply_payment(self, request: ApplyPaymentRequest) -> ApplyPaymentResult:
        """A payment the agency collected lowers the matching item's open amount, once per
        agency payment id (a replay changes nothing)."""
        async with self._pool.acquire() as conn, conn.transaction():
            transfer = await self._locked(conn, request.transfer_id)
            item = await conn.fetchrow(
                "SELECT id, dossier_id, open_amount FROM items WHERE client_id = $1"
                " AND number = $2 AND id = ANY($3::uuid[]) ORDER BY kind = 'invoice' DESC"
                " LIMIT 1 FOR UPDATE",
                transfer["client_id"], request.item_number, transfer["item_ids"],
            )
            applied, new_open = (
                payment_applied(item["open_amount"], request.amount) if item else (0, None)
            )
            recorded = await conn.fetchval(
                "INSERT INTO transfer_payments (payment_id, agency_code, transfer_id, item_id,"
                " amount, applied, collected_on) VALUES ($1,$2,$3,$4,$5,$6,$7)"
                " ON CONFLICT DO NOTHING RETURNING true",
                request.payment_id, transfer["agency_code"], request.transfer_id,
                item["id"] if item else None, request.amount, applied, request.collected_on,
            )
            if not recorded:
                return ApplyPaymentResult(applied=0, item_found=item is not None, replay=True)
            agency = _agency(transfer["agency_code"])
            if item is not None:
                await conn.execute(
                    "UPDATE items SET open_amount = $2, updated_at = now() WHERE id = $1",
                    item["id"], new_open,
                )
                await write_events(conn, [
                    ItemPaymentApplied(
                        item_id=item["id"], client_id=transfer["client_id"],
                        dossier_id=item["dossier_id"], payment_id=request.payment_id,
                        agency_code=transfer["agency_code"], amount=applied, open_amount=new_open,
                    ).envelope(aggregate_id=item["id"], client_id=transfer["client_id"], actor=agency)
                ])
            await _audit(conn, transfer["client_id"], agency, "payment_collected",
                         request.transfer_id, comment=f"{request.amount} on {request.item_number}",
                         details={
                             "payment_id": request.payment_id, "item_number": request.item_number,
                             "amount": str(request.amount), "applied": str(applied),
                             "item_found": item is not None})
        return ApplyPaymentResult(applied=applied, item_found=item is not None, replay=False)

    @activity.defn(name=contract.RECORD_AGENCY_STATUS.name)
    async def record_agency_status(self, request: RecordAgencyStatusRequest) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            transfer = await self._locked(conn, request.transfer_id)
            await conn.execute(
                "UPDATE transfers SET agency_status = $2 WHERE id = $1",
                request.transfer_id, request.status,
            )
            await _audit(conn, transfer["client_id"], _agency(transfer["agency_code"]),
                         "agency_status", request.transfer_id, comment=request.comment,
                         details={"status": request.status})

    @activity.defn(name=contract.RECORD_AGENCY_MESSAGE.name)
    async def record_agency_message(self, request: RecordAgencyMessageRequest) -> None:
        """F-41: the agency's documents are copied from the gateway into the client's files
        (under the gateway's document ids, so a retry copies nothing twice), then the
        message, with the files, joins the transfer's history, all in one transaction."""
        message = request.message
        files = await fetch_agency_documents(self._settings, message)
        async with self._pool.acquire() as conn, conn.transaction():
            transfer = await self._locked(conn, message.transfer_id)
            if await placements.message_recorded(conn, message.message_id):
                return
            for document, storage_path in files:
                await placements.insert_agency_document(
                    conn, client_id=transfer["client_id"], document=document,
                    storage_path=storage_path, agency_code=message.agency_code,
                    transfer_id=message.transfer_id)
            await _audit(conn, transfer["client_id"], _agency(message.agency_code), "agency_message",
                         message.transfer_id, comment=message.body,
                         details={"message_id": str(message.message_id),
                                  "documents": [{"id": str(d.document_id), "file_name": d.file_name}
                                                for d in message.documents]})

    def all(self) -> list:
        return [
            self.record_window, self.place_transfer, self.return_items,
            self.request_cancellation, self.refuse_cancellation, self.acknowledge_placement,
            self.mark_answer_overdue, self.apply_payment, self.record_agency_status,
            self.record_agency_message,
        ]
