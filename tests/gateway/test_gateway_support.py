"""Support for the transfer gateway's integration tests (no tests here) (F-31): a signing agency client,
a real local HTTP server standing for an agency's webhook endpoint, and transfer events
written to the outbox the way the transfer workflow writes them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from uuid import UUID, uuid4

import asyncpg
import httpx

from relance.events import EventEnvelope, TransferCancellationRequested, TransferItem, TransferPlaced
from relance.outbox import write_events
from tests.stack import ALL_OUTBOXES


def new_agency_code() -> str:
    return f"T{uuid4().hex[:10].upper()}"


def new_secret() -> str:
    """A signing secret in the Standard Webhooks format, as the gateway issues them."""
    return "whsec_" + base64.b64encode(uuid4().bytes + uuid4().bytes).decode()


def sign(secret: str, *, timestamp: str, nonce: str, method: str, path: str,
         idempotency_key: str | None, body: bytes) -> str:
    """The request recipe of the gateway's API description, written independently of its
    code: v2 = hex HMAC-SHA256, keyed by the decoded secret, of the request's lines."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{timestamp}\n{nonce}\n{method}\n{path}\n{idempotency_key or ''}\n".encode() + body
    return "v2=" + hmac.new(key, content, hashlib.sha256).hexdigest()


@dataclass
class AgencyClient:
    """An agency calling the gateway: every request signed, every POST with a key."""

    http: httpx.AsyncClient
    code: str
    api_key: str
    secret: str

    def headers(self, method: str, path: str, body: bytes, *, secret: str | None = None,
                timestamp: int | None = None, nonce: str | None = None,
                idempotency_key: str | None = None) -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or str(uuid4())
        headers = {"Content-Type": "application/json", "X-Agency-Key": self.api_key,
                   "X-Relance-Timestamp": ts, "X-Relance-Nonce": nonce,
                   "X-Relance-Signature": sign(secret or self.secret, timestamp=ts, nonce=nonce,
                                               method=method, path=path,
                                               idempotency_key=idempotency_key, body=body)}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    async def get(self, path: str, **kwargs) -> httpx.Response:
        return await self.http.get(path, headers=self.headers("GET", path, b"", **kwargs))

    async def post(self, path: str, payload: dict, *, idempotency_key: str | None = "auto",
                   **kwargs) -> httpx.Response:
        body = json.dumps(payload).encode()
        key = str(uuid4()) if idempotency_key == "auto" else idempotency_key
        return await self.http.post(path, content=body, headers=self.headers(
            "POST", path, body, idempotency_key=key, **kwargs))


async def register_agency(admin: httpx.AsyncClient, gateway: httpx.AsyncClient,
                          webhook_url: str | None = None) -> AgencyClient:
    code = new_agency_code()
    response = await admin.post("/admin/agencies", json={
        "code": code, "name": f"Agency {code}", "webhook_url": webhook_url})
    assert response.status_code == 201, response.text
    credentials = response.json()["credentials"]
    return AgencyClient(gateway, code, credentials["api_key"], credentials["signing_secret"])


@dataclass
class PlacedTransfer:
    transfer_id: UUID
    client_id: UUID
    event_id: UUID


def placement_envelope(agency_code: str, items: tuple[str, ...] = ("INV-1",),
                       transfer_id: UUID | None = None) -> EventEnvelope:
    """A TransferPlaced event as the transfer workflow writes it."""
    transfer_id, client_id = transfer_id or uuid4(), uuid4()
    placed = TransferPlaced(
        transfer_id=transfer_id, client_id=client_id, client_code=f"C-{transfer_id.hex[:6]}",
        client_name="Acme SA", agency_code=agency_code,
        items=[TransferItem(item_id=uuid4(), number=n, kind="invoice", issue_date=date(2026, 9, 1),
                            due_date=date(2026, 10, 1), amount=Decimal("1200.00"),
                            open_amount=Decimal("1200.00"), currency="EUR") for n in items],
        opening_comment="Unreachable since September", next_follow_up_date=date(2026, 12, 15),
        placed_at=datetime.now(UTC),
    )
    return placed.envelope(aggregate_id=transfer_id, client_id=client_id, actor="workflow")


def cancellation_envelope(transfer_id: UUID, client_id: UUID, agency_code: str) -> EventEnvelope:
    """The TransferCancellationRequested event of a placed transfer."""
    request = TransferCancellationRequested(
        transfer_id=transfer_id, client_id=client_id, agency_code=agency_code,
        comment="The client paid us directly", requested_by="user:admin",
        requested_at=datetime.now(UTC),
    )
    return request.envelope(aggregate_id=transfer_id, client_id=client_id)


async def write_placement(db: asyncpg.Pool, agency_code: str, items: tuple[str, ...] = ("INV-1",),
                          transfer_id: UUID | None = None) -> PlacedTransfer:
    """A TransferPlaced event in the outbox, as the transfer workflow writes it."""
    envelope = placement_envelope(agency_code, items, transfer_id)
    async with db.acquire() as conn, conn.transaction():
        await write_events(conn, [envelope])
    return PlacedTransfer(UUID(envelope.aggregate_id), UUID(envelope.client_id), envelope.event_id)


async def write_cancellation_request(db: asyncpg.Pool, placed: PlacedTransfer, agency_code: str) -> UUID:
    envelope = cancellation_envelope(placed.transfer_id, placed.client_id, agency_code)
    async with db.acquire() as conn, conn.transaction():
        await write_events(conn, [envelope])
    return envelope.event_id


async def agency_events(db: asyncpg.Pool, event_type: str, transfer_id: UUID) -> list[dict]:
    """agency.* events the gateway wrote to the outbox for a transfer."""
    rows = await db.fetch(
        f"SELECT event FROM {ALL_OUTBOXES} WHERE event_type = $1 AND event->>'aggregate_id' = $2"
        " ORDER BY event->>'occurred_at', id",
        event_type, str(transfer_id),
    )
    return [r["event"] for r in rows]


@dataclass
class WebhookReceiver:
    """A real HTTP server standing for an agency's webhook endpoint. It answers 500 to
    the first `fail_first` requests (or to all while `always_fail`), then 200."""

    fail_first: int = 0
    always_fail: bool = False
    failure_body: bytes = b""  # what a failed answer says (the gateway must not keep it)
    requests: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fail = receiver.always_fail or len(receiver.requests) < receiver.fail_first
                receiver.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                                          "body": body, "status": 500 if fail else 200})
                answer = receiver.failure_body if fail else b""
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
