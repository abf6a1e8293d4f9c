"""Claim checks: an event too large for the broker travels as its id, its details stay
with the service that wrote it (issue: oversized events).

A transfer of 10,000 items or a communication over 6,000 open invoices makes an event
larger than the broker's 1 MiB message limit. `write_events` keeps every event whose
payload is over `INLINE_LIMIT_BYTES` out of the message: the payload goes to the writer's
`event_payloads` table in the same transaction, and the published envelope carries an
empty payload and a `payload_claim` (its size and SHA-256). A consumer's `DeadLetters`
hands its handler the envelope with the payload read back, through the writer's internal
API (`GET /internal/event-payloads/{event_id}`), checked against the claim. The handlers
never see the difference.

Only the dossier writes events that large (its transfers and communications); the
notifier's and the gateway's events are capped well under the limit. The stored payloads
are pruned with the outbox, after the same retention."""

from __future__ import annotations

import hashlib
from uuid import UUID

import asyncpg
import httpx
from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import Counter
from pydantic_core import to_json

from relance.api.errors import ApiError
from relance.api.internal import internal_caller, internal_headers
from relance.events import EventEnvelope, PayloadClaim
from relance.settings import CommonSettings

# Well under the broker's 1 MiB, so the envelope, headers and framing always fit.
INLINE_LIMIT_BYTES = 256 * 1024
PAYLOAD_PATH = "/internal/event-payloads/{event_id}"

CLAIMED = Counter(
    "relance_events_claim_checked_total",
    "Events published with their payload kept by their writer (too large for a message)",
    ["event_type"],
)

# A migration of the writer's history runs this (the dossier's 0017).
EVENT_PAYLOADS_TABLE = """
CREATE TABLE event_payloads (
    event_id    uuid PRIMARY KEY,
    payload     text NOT NULL,  -- the bytes its claim's SHA-256 covers (not jsonb, which reorders)
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_payloads_created_at ON event_payloads (created_at);
"""
DROP_EVENT_PAYLOADS_TABLE = "DROP TABLE IF EXISTS event_payloads;"


def claim_if_large(
    envelope: EventEnvelope, limit: int = INLINE_LIMIT_BYTES
) -> tuple[EventEnvelope, bytes | None]:
    """The envelope to publish and, when its payload is over `limit` bytes, that payload
    (serialised) to store under the event id."""
    body = to_json(envelope.payload)
    if len(body) <= limit:
        return envelope, None
    claim = PayloadClaim(size_bytes=len(body), sha256=hashlib.sha256(body).hexdigest())
    CLAIMED.labels(envelope.event_type).inc()
    return envelope.model_copy(update={"payload": {}, "payload_claim": claim}), body


async def stored_payload(conn: asyncpg.Connection | asyncpg.Pool, event_id: UUID) -> str | None:
    return await conn.fetchval(
        "SELECT payload FROM event_payloads WHERE event_id = $1", event_id
    )


def payload_router() -> APIRouter:
    """The writer's internal route serving the payloads it kept."""
    router = APIRouter(tags=["internal"], include_in_schema=False)

    @router.get(PAYLOAD_PATH, dependencies=[Depends(internal_caller)])
    async def event_payload(event_id: UUID, request: Request) -> Response:
        payload = await stored_payload(request.app.state.pool, event_id)
        if payload is None:
            raise ApiError(404, "event_id", f"no payload kept for event {event_id}"
                           " (never claim-checked, or pruned after the retention)")
        return Response(payload, media_type="application/json")

    return router


class ClaimUnavailable(ConnectionError):
    """The writer's API did not answer: an outage, retried in place (an OSError)."""


class ClaimInvalid(Exception):
    """The writer has no such payload, or one that does not match the claim: the message
    is retried a few times, then parked as a dead letter with this reason."""


class ClaimResolver:
    """Reads a claim-checked payload back from the service that wrote it."""

    def __init__(self, base_url: str, token: str | None, *, timeout: float = 30.0) -> None:
        self._base = base_url.rstrip("/")
        self._headers = internal_headers(token)
        self._timeout = timeout
        self._http: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> ClaimResolver:
        return cls(settings.dossier_api_url, settings.internal_api_token)

    async def resolve(self, envelope: EventEnvelope) -> EventEnvelope:
        claim = envelope.payload_claim
        if claim is None:
            return envelope
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout)
        url = self._base + PAYLOAD_PATH.format(event_id=envelope.event_id)
        try:
            response = await self._http.get(url, headers=self._headers)
        except httpx.TransportError as exc:
            raise ClaimUnavailable(f"{url}: {exc!r}") from exc
        if response.status_code >= 500:
            raise ClaimUnavailable(f"{url} answered {response.status_code}")
        if response.status_code != 200:
            raise ClaimInvalid(f"{url} answered {response.status_code}: {response.text[:300]}")
        body = response.content
        if hashlib.sha256(body).hexdigest() != claim.sha256:
            raise ClaimInvalid(f"the payload of event {envelope.event_id} does not match its claim")
        return envelope.model_copy(update={"payload": response.json(), "payload_claim": None})

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
