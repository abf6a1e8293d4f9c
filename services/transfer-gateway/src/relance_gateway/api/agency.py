"""The agency API, version 1 (F-29, F-31): pull placements and cancellation requests,
answer them, report payments and statuses. Every request is signed (see the API
description); every POST carries an Idempotency-Key. An agency sees only its own
placements: another agency's transfer answers 404, exactly like an unknown one."""

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID, uuid4

import asyncpg
import httpx
import structlog
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from relance.api.errors import ApiError
from relance.api.internal import internal_headers
from relance.events import (
    AgencyCancellationRefused,
    AgencyCancellationValidated,
    AgencyDocument,
    AgencyMessageSent,
    AgencyPaymentCollected,
    AgencyPlacementAcknowledged,
    AgencyStatusUpdated,
    EventPayload,
)
from relance.outbox import write_events
from relance_gateway.api.models import (
    Accepted,
    Acknowledgement,
    AgencyMessageIn,
    CancellationRefusal,
    CancellationValidation,
    Message,
    MessageAcknowledged,
    MessageList,
    PaymentCollected,
    Placement,
    PlacementList,
    StatusUpdate,
)
from relance_gateway.api.security import authenticated_agency, endpoint_name
from relance_gateway.domain import placements as rules
from relance_gateway.domain.idempotency import Decision, decide, is_remembered, key_problem, request_hash
from relance_gateway.metrics import INBOUND_REQUESTS
from relance_gateway.persistence import idempotency, placements
from relance_gateway.persistence.agencies import AgencyCaller

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/agency/v1", tags=["agency API v1"])

SIGNED = {
    401: {"description": "Missing or wrong X-Agency-Key, stale X-Relance-Timestamp, missing "
                         "X-Relance-Nonce, bad signature, or a signed request already received",
          "content": {"application/json": {"example": {"errors": [
              {"field": "X-Relance-Signature",
               "reason": "signature does not match the request (timestamp, nonce, method, path,"
                         " Idempotency-Key and body) with any active secret"}]}}}},
}
NOT_YOURS = {404: {"description": "No such transfer among your placements",
                   "content": {"application/json": {"example": {"errors": [
                       {"field": "transfer_id", "reason": "no such placement"}]}}}}}
IDEMPOTENT = {
    400: {"description": "Idempotency-Key header missing"},
    409: {"description": "Not possible in the placement's current state (the reason says why)"},
    422: {"description": "Invalid body, or Idempotency-Key already used with another body",
          "content": {"application/json": {"example": {"errors": [
              {"field": "Idempotency-Key",
               "reason": "already used with a different request; use a new key"}]}}}},
}
# What every signed, idempotent POST on one of the agency's placements may answer.
AGENCY_ANSWERS = {**SIGNED, **IDEMPOTENT, **NOT_YOURS}

IdempotencyKey = Header(
    None, alias="Idempotency-Key",
    description="Unique per operation (e.g. a UUID). Sending the same request again with the "
    "same key returns the first answer; the same key with another body is refused (422).",
)


def _placement_out(row: asyncpg.Record) -> Placement:
    return Placement(**{k: row[k] for k in Placement.model_fields})


def _state(row: asyncpg.Record) -> rules.PlacementState:
    return rules.PlacementState(row["status"], row["acknowledged_at"] is not None)


Effect = Callable[[asyncpg.Connection], Awaitable[tuple[int, dict]]]


async def _idempotent(
    request: Request, caller: AgencyCaller, key: str | None, effect: Effect
) -> Response:
    """Run `effect` once per Idempotency-Key: the effect, the outbox events and the stored
    answer commit together, so a replay can never apply anything twice."""
    endpoint = endpoint_name(request)
    if problem := key_problem(key):
        INBOUND_REQUESTS.labels(endpoint, "invalid").inc()
        raise ApiError(400, "Idempotency-Key", problem)
    fingerprint = request_hash(request.method, request.url.path, await request.body())
    try:
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            await idempotency.lock_key(conn, caller.code, key)
            stored = await idempotency.find_answer(conn, caller.code, key)
            decision = decide(stored, fingerprint)
            if decision is Decision.REPLAY:
                INBOUND_REQUESTS.labels(endpoint, "replayed").inc()
                return Response(stored.body, status_code=stored.status_code,
                                media_type="application/json",
                                headers={"Idempotent-Replayed": "true"})
            if decision is Decision.CONFLICT:
                raise ApiError(422, "Idempotency-Key",
                               "already used with a different request; use a new key")
            status_code, body = await effect(conn)
            answer = JSONResponse(body, status_code=status_code)
            if is_remembered(status_code):
                await idempotency.store_answer(
                    conn, agency_code=caller.code, key=key, request_hash=fingerprint,
                    method=request.method, path=request.url.path, status_code=status_code,
                    response=answer.body.decode(),
                )
    except ApiError as exc:
        outcome = {404: "not_found", 409: "conflict"}.get(exc.status_code, "invalid")
        if exc.field == "Idempotency-Key":
            outcome = "idempotency_conflict"
        INBOUND_REQUESTS.labels(endpoint, outcome).inc()
        raise
    INBOUND_REQUESTS.labels(endpoint, "ok").inc()
    return answer


async def _placement_for(
    conn: asyncpg.Connection, caller: AgencyCaller, transfer_id: UUID,
    check: Callable[[rules.PlacementState], str],
) -> tuple[asyncpg.Record, str]:
    """The caller's own placement, locked, and the status `check` moves it to: 404 for a
    placement that is not the caller's, 409 for a move its state refuses."""
    row = await placements.get_placement(conn, caller.code, transfer_id, for_update=True)
    if row is None:
        raise ApiError(404, "transfer_id", "no such placement")
    try:
        return row, check(_state(row))
    except rules.TransitionRefused as exc:
        raise ApiError(409, "transfer_id", exc.reason) from None


async def _record(
    conn: asyncpg.Connection, caller: AgencyCaller, row: asyncpg.Record, event: EventPayload,
    *, new_status: str,
) -> tuple[int, dict]:
    """Write the agency.* event with the state change. The audit trail (F-33) is the
    transfer history's: the transfer workflow records the answer, with the agency as the
    actor, when it applies the event (recording it here too listed it twice)."""
    envelope = event.envelope(aggregate_id=row["transfer_id"], client_id=row["client_id"],
                              actor=f"agency:{caller.code}")
    await write_events(conn, [envelope])
    answer = Accepted(transfer_id=row["transfer_id"], event=event.event_type,
                      event_id=envelope.event_id, status=new_status,
                      received_at=datetime.now(UTC))
    return 200, answer.model_dump(mode="json")


# ---- pull API ----------------------------------------------------------------------------


@router.get("/messages", response_model=MessageList, responses=SIGNED,
            summary="New placements and cancellation requests not yet acknowledged",
            description="The pull API, for agencies without a webhook endpoint (webhook agencies "
            "may use it too). Acknowledge each message once handled; it then leaves this list.")
async def list_messages(
    request: Request, limit: int = 100, caller: AgencyCaller = Depends(authenticated_agency)
) -> MessageList:
    if not 1 <= limit <= 500:
        raise ApiError(422, "limit", "must be between 1 and 500")
    async with request.app.state.pool.acquire() as conn:
        rows = await placements.list_new_messages(conn, caller.code, limit)
    INBOUND_REQUESTS.labels(endpoint_name(request), "ok").inc()
    return MessageList(messages=[Message(**r["body"], acknowledged_at=r["acknowledged_at"]) for r in rows])


@router.post("/messages/{message_id}/ack", response_model=MessageAcknowledged,
             responses=AGENCY_ANSWERS,
             summary="Acknowledge delivery of a message (it leaves the pull list)")
async def acknowledge_message(
    message_id: UUID, request: Request, idempotency_key: str | None = IdempotencyKey,
    caller: AgencyCaller = Depends(authenticated_agency),
) -> Response:
    async def effect(conn: asyncpg.Connection) -> tuple[int, dict]:
        row = await placements.get_message(conn, caller.code, message_id)
        if row is None:
            raise ApiError(404, "message_id", "no such message")
        acknowledged_at = await placements.acknowledge_message(conn, message_id, "pull")
        answer = MessageAcknowledged(id=message_id, acknowledged_at=acknowledged_at)
        return 200, answer.model_dump(mode="json")

    return await _idempotent(request, caller, idempotency_key, effect)


@router.get("/placements", response_model=PlacementList, responses=SIGNED,
            summary="Your placements, newest first")
async def list_placements(
    request: Request,
    status: Literal["placed", "cancellation_requested", "cancelled"] | None = None,
    limit: int = 100,
    caller: AgencyCaller = Depends(authenticated_agency),
) -> PlacementList:
    if not 1 <= limit <= 500:
        raise ApiError(422, "limit", "must be between 1 and 500")
    async with request.app.state.pool.acquire() as conn:
        rows = await placements.list_placements(conn, caller.code, status, limit)
    return PlacementList(placements=[_placement_out(r) for r in rows])


@router.get("/placements/{transfer_id}", response_model=Placement,
            responses={**SIGNED, **NOT_YOURS}, summary="One of your placements")
async def get_placement(
    transfer_id: UUID, request: Request, caller: AgencyCaller = Depends(authenticated_agency)
) -> Placement:
    async with request.app.state.pool.acquire() as conn:
        row = await placements.get_placement(conn, caller.code, transfer_id)
    if row is None:
        INBOUND_REQUESTS.labels(endpoint_name(request), "not_found").inc()
        raise ApiError(404, "transfer_id", "no such placement")
    return _placement_out(row)


def _placed_document_ids(placement: dict) -> set[str]:
    """The documents a placement lists (F-41): on its items and on the whole account."""
    listed = [d for item in placement.get("items", []) for d in item.get("documents", [])]
    return {str(d["document_id"]) for d in [*listed, *placement.get("documents", [])]}


@router.get(
    "/placements/{transfer_id}/documents/{document_id}", response_class=StreamingResponse,
    responses={**SIGNED, **NOT_YOURS,
               200: {"description": "The document's bytes, under its file name",
                     "content": {"application/pdf": {}, "application/octet-stream": {}}},
               503: {"description": "The document store did not answer: try again later"}},
    summary="Download a document of one of your placements (F-41)",
)
async def placement_document(
    transfer_id: UUID, document_id: UUID, request: Request,
    caller: AgencyCaller = Depends(authenticated_agency),
) -> StreamingResponse:
    """A document the placement lists (on an item or on the account), streamed from
    Relance's document store; one deleted since the placement answers 404."""
    async with request.app.state.pool.acquire() as conn:
        row = await placements.get_placement(conn, caller.code, transfer_id)
    if row is None:
        INBOUND_REQUESTS.labels(endpoint_name(request), "not_found").inc()
        raise ApiError(404, "transfer_id", "no such placement")
    if str(document_id) not in _placed_document_ids(row["placement"]):
        INBOUND_REQUESTS.labels(endpoint_name(request), "not_found").inc()
        raise ApiError(404, "document_id", "no such document on this placement")
    settings = request.app.state.settings
    http: httpx.AsyncClient = request.app.state.http
    url = f"{settings.dossier_api_url.rstrip('/')}/internal/transfers/{transfer_id}/documents/{document_id}"
    try:
        upstream = await http.send(http.build_request(
            "GET", url, headers=internal_headers(settings.internal_api_token),
            timeout=settings.dossier_api_timeout_seconds), stream=True)
    except httpx.HTTPError as exc:
        log.warning("gateway.document_store_unreachable", error=repr(exc))
        raise ApiError(503, None, "the document store is unavailable; try again later") from None
    if upstream.status_code != 200:
        await upstream.aclose()
        if upstream.status_code == 404:
            INBOUND_REQUESTS.labels(endpoint_name(request), "not_found").inc()
            raise ApiError(404, "document_id", "the document was deleted since the placement")
        raise ApiError(503, None, "the document store is unavailable; try again later")

    INBOUND_REQUESTS.labels(endpoint_name(request), "ok").inc()
    headers = {k: upstream.headers[k] for k in ("content-disposition", "content-length")
               if k in upstream.headers}
    # The response goes back to the shared client's pool once streamed.
    return StreamingResponse(upstream.aiter_raw(), media_type=upstream.headers.get("content-type"),
                             headers=headers, background=BackgroundTask(upstream.aclose))


# ---- inbound: the agency's answers ---------------------------------------------------------


@router.post("/placements/{transfer_id}/acknowledgement", response_model=Accepted,
             responses=AGENCY_ANSWERS,
             summary="Acknowledge a placement, with your own reference")
async def acknowledge_placement(
    transfer_id: UUID, body: Acknowledgement, request: Request,
    idempotency_key: str | None = IdempotencyKey,
    caller: AgencyCaller = Depends(authenticated_agency),
) -> Response:
    async def effect(conn: asyncpg.Connection) -> tuple[int, dict]:
        row, status = await _placement_for(conn, caller, transfer_id, rules.acknowledge)
        await placements.set_placement(conn, transfer_id, acknowledged_at=datetime.now(UTC),
                                       agency_reference=body.agency_reference)
        event = AgencyPlacementAcknowledged(transfer_id=transfer_id, client_id=row["client_id"],
                                            agency_code=caller.code, agency_reference=body.agency_reference)
        return await _record(conn, caller, row, event, new_status=status)

    return await _idempotent(request, caller, idempotency_key, effect)


@router.post("/placements/{transfer_id}/cancellation/validation", response_model=Accepted,
             responses=AGENCY_ANSWERS,
             summary="Validate a pending cancellation request: the items return to Relance (F-29)")
async def validate_cancellation(
    transfer_id: UUID, body: CancellationValidation, request: Request,
    idempotency_key: str | None = IdempotencyKey,
    caller: AgencyCaller = Depends(authenticated_agency),
) -> Response:
    async def effect(conn: asyncpg.Connection) -> tuple[int, dict]:
        row, status = await _placement_for(conn, caller, transfer_id, rules.validate_cancellation)
        await placements.set_placement(conn, transfer_id, status=status)
        event = AgencyCancellationValidated(transfer_id=transfer_id, client_id=row["client_id"],
                                            agency_code=caller.code, comment=body.comment)
        return await _record(conn, caller, row, event, new_status=status)

    return await _idempotent(request, caller, idempotency_key, effect)


@router.post("/placements/{transfer_id}/cancellation/refusal", response_model=Accepted,
             responses=AGENCY_ANSWERS,
             summary="Refuse a pending cancellation request, with a reason (F-29)")
async def refuse_cancellation(
    transfer_id: UUID, body: CancellationRefusal, request: Request,
    idempotency_key: str | None = IdempotencyKey,
    caller: AgencyCaller = Depends(authenticated_agency),
) -> Response:
    if not body.reason.strip():
        raise ApiError(422, "reason", "a reason is required to refuse a cancellation")

    async def effect(conn: asyncpg.Connection) -> tuple[int, dict]:
        row, status = await _placement_for(conn, caller, transfer_id, rules.refuse_cancellation)
        await placements.set_placement(conn, transfer_id, status=status, refusal_reason=body.reason)
        event = AgencyCancellationRefused(transfer_id=transfer_id, client_id=row["client_id"],
                                          agency_code=caller.code, reason=body.reason)
        return await _record(conn, caller, row, event, new_status=status)

    return await _idempotent(request, caller, idempotency_key, effect)


@router.post("/placements/{transfer_id}/payments", response_model=Accepted,
             responses=AGENCY_ANSWERS,
             summary="Report a payment collected on one of the placement's items")
async def report_payment(
    transfer_id: UUID, body: PaymentCollected, request: Request,
    idempotency_key: str | None = IdempotencyKey,
    caller: AgencyCaller = Depends(authenticated_agency),
) -> Response:
    async def effect(conn: asyncpg.Connection) -> tuple[int, dict]:
        row, status = await _placement_for(conn, caller, transfer_id, rules.record_payment)
        # The placement as stored carries each item's currency (the transfer.placed event).
        if problem := rules.payment_problem(row["placement"].get("items", []), body.item_number,
                                            body.currency):
            raise ApiError(422, *problem)
        if not await placements.insert_payment(
            conn, agency_code=caller.code, payment_id=body.payment_id, transfer_id=transfer_id,
            item_number=body.item_number, amount=body.amount, currency=body.currency,
            collected_on=body.collected_on,
        ):
            raise ApiError(409, "payment_id", "this payment was already reported")
        event = AgencyPaymentCollected(
            payment_id=body.payment_id, transfer_id=transfer_id, client_id=row["client_id"],
            agency_code=caller.code, item_number=body.item_number, amount=body.amount,
            currency=body.currency, collected_on=body.collected_on,
        )
        return await _record(conn, caller, row, event, new_status=status)

    return await _idempotent(request, caller, idempotency_key, effect)


@router.post("/placements/{transfer_id}/status", response_model=Accepted,
             responses=AGENCY_ANSWERS,
             summary="Tell Relance where the file stands on your side")
async def update_status(
    transfer_id: UUID, body: StatusUpdate, request: Request,
    idempotency_key: str | None = IdempotencyKey,
    caller: AgencyCaller = Depends(authenticated_agency),
) -> Response:
    async def effect(conn: asyncpg.Connection) -> tuple[int, dict]:
        row, status = await _placement_for(conn, caller, transfer_id, rules.update_status)
        await placements.set_placement(conn, transfer_id, agency_status=body.status)
        event = AgencyStatusUpdated(transfer_id=transfer_id, client_id=row["client_id"],
                                    agency_code=caller.code, status=body.status, comment=body.comment)
        return await _record(conn, caller, row, event, new_status=status)

    return await _idempotent(request, caller, idempotency_key, effect)


@router.post("/placements/{transfer_id}/messages", response_model=Accepted,
             responses=AGENCY_ANSWERS,
             summary="Write to the collector on a placement, with documents (F-41)")
async def send_message(
    transfer_id: UUID, body: AgencyMessageIn, request: Request,
    idempotency_key: str | None = IdempotencyKey,
    caller: AgencyCaller = Depends(authenticated_agency),
) -> Response:
    """The message joins the transfer's history in Relance, with you as its author; the
    documents join the client's files. Not on a cancelled placement (409)."""

    async def effect(conn: asyncpg.Connection) -> tuple[int, dict]:
        row, status = await _placement_for(conn, caller, transfer_id, rules.send_message)
        message_id = uuid4()
        documents = []
        for document in body.documents:
            content = document.content()
            stored = AgencyDocument(document_id=uuid4(), file_name=document.file_name,
                                    content_type=document.content_type, size_bytes=len(content),
                                    sha256=hashlib.sha256(content).hexdigest())
            await placements.insert_agency_document(
                conn, document_id=stored.document_id, agency_code=caller.code,
                transfer_id=transfer_id, message_id=message_id, file_name=stored.file_name,
                content_type=stored.content_type, content=content, sha256=stored.sha256)
            documents.append(stored)
        event = AgencyMessageSent(message_id=message_id, transfer_id=transfer_id,
                                  client_id=row["client_id"], agency_code=caller.code,
                                  body=body.body, documents=documents, sent_at=datetime.now(UTC))
        return await _record(conn, caller, row, event, new_status=status)

    return await _idempotent(request, caller, idempotency_key, effect)
