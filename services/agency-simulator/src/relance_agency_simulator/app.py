"""The agency simulator: a collection agency on the far side of the gateway (F-31).

It stands for a remote party, so tests and demos talk to a real HTTP server rather than
a mock. It receives the gateway's webhooks and verifies them with the official
`standardwebhooks` library, as an agency would (independently of the gateway's code),
and answers through the gateway's signed agency API by a policy, signing each request
by the recipe of the gateway's API description:

* `accept`: acknowledge placements, validate cancellation requests;
* `refuse`: acknowledge placements, refuse cancellation requests with a reason;
* `delay`: like accept, DELAY_SECONDS later;
* `never`: answer nothing (the workflow's overdue alert, F-30, can be seen);
* `flaky`: answer 500 to a share (FLAKY_RATE) of the webhooks so the gateway retries,
  otherwise like accept; at most FLAKY_MAX_FAILURES times in a row for one message, so
  the retries end in a delivery rather than a dead letter.

The policy can be changed while running (`PUT /policy`) for demos."""

import asyncio
import base64
import hashlib
import hmac
import json
import random
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import BaseModel, Field
from standardwebhooks import Webhook, WebhookVerificationError

from relance.observability import add_health_and_metrics
from relance.retry import backoff_delay
from relance.settings import CommonSettings

log = structlog.get_logger(__name__)

WEBHOOKS_RECEIVED = Counter(
    "relance_agency_simulator_webhooks_total", "Webhooks received, by outcome", ["outcome"]
)
ANSWERS_SENT = Counter(
    "relance_agency_simulator_answers_total", "Answers sent to the gateway, by outcome", ["outcome"]
)

Policy = Literal["accept", "refuse", "delay", "never", "flaky"]
KEPT = 1000  # what /received and /answers keep, newest last


def _body(result: httpx.Response):
    """The gateway's JSON answer; a 5xx from a proxy or a server going down may be plain
    text, kept as it is (the answer is then tried again, never given up on a parse)."""
    if not result.content:
        return None
    try:
        return result.json()
    except ValueError:
        return result.text[:500]


class Settings(CommonSettings):
    service_name: str = "agency-simulator"
    http_port: int = 8400
    gateway_url: str = "http://127.0.0.1:8100"
    agency_code: str = "RECOUVEO"
    agency_key: str | None = None
    agency_secret: str | None = None
    policy: Policy = "accept"
    delay_seconds: float = 5.0
    flaky_rate: float = Field(0.3, ge=0, le=1)
    flaky_max_failures: int = Field(2, ge=0)
    refusal_reason: str = "The debtor signed a payment plan with us"
    answer_attempts: int = 5


class Received(BaseModel):
    at: datetime
    event_id: str | None
    event_type: str | None
    signature_valid: bool
    answered_with_status: int
    headers: dict[str, str]
    body: Any


class Answer(BaseModel):
    at: datetime
    event_id: str
    path: str
    request: dict[str, Any]
    status_code: int | None
    response: Any


class PolicyState(BaseModel):
    policy: Policy
    delay_seconds: float = Field(ge=0)
    flaky_rate: float = Field(ge=0, le=1)
    flaky_max_failures: int = Field(2, ge=0)


def signature_valid(secret: str | None, headers: dict[str, str], body: bytes) -> bool:
    """A Standard Webhooks verification with the official library (its own clock and
    5-minute tolerance); any signature of a rotation header may match."""
    if not secret:
        return False
    try:
        Webhook(secret).verify(body, headers, json_parse=False)
    except (WebhookVerificationError, ValueError):  # ValueError: a malformed header or secret
        return False
    return True


def signed_headers(settings: Settings, method: str, path: str, body: bytes,
                   idempotency_key: str | None) -> dict[str, str]:
    """The gateway's request recipe: v2 = hex HMAC-SHA256, keyed by the decoded secret, of
    the timestamp, a new nonce, the method, the path, the Idempotency-Key and the body."""
    timestamp, nonce = str(int(time.time())), str(uuid.uuid4())
    key = base64.b64decode((settings.agency_secret or "").removeprefix("whsec_") + "==")
    content = f"{timestamp}\n{nonce}\n{method}\n{path}\n{idempotency_key or ''}\n".encode() + body
    headers = {
        "Content-Type": "application/json",
        "X-Agency-Key": settings.agency_key or "",
        "X-Relance-Timestamp": timestamp,
        "X-Relance-Nonce": nonce,
        "X-Relance-Signature": "v2=" + hmac.new(key, content, hashlib.sha256).hexdigest(),
    }
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return headers


def planned_answer(policy: Policy, message: Any, refusal_reason: str) -> tuple[str, dict] | None:
    """(path, body) of the answer the policy gives to a message, or None."""
    if policy == "never" or not isinstance(message, dict) or "data" not in message:
        return None
    transfer_id = message["data"]["transfer_id"]
    base = f"/agency/v1/placements/{transfer_id}"
    if message["type"] == "placement":
        return f"{base}/acknowledgement", {"agency_reference": f"SIM-{transfer_id[:8].upper()}"}
    if message["type"] == "cancellation_request":
        if policy == "refuse":
            return f"{base}/cancellation/refusal", {"reason": refusal_reason}
        return f"{base}/cancellation/validation", {"comment": "Validated by the simulated agency"}
    return None


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="Relance agency simulator", version="1.0.0",
                  description="A simulated collection agency answering the transfer gateway by a policy.")
    app.state.received = deque(maxlen=KEPT)
    app.state.answers = deque(maxlen=KEPT)
    app.state.answered_events = set()
    app.state.policy = PolicyState(policy=settings.policy, delay_seconds=settings.delay_seconds,
                                   flaky_rate=settings.flaky_rate,
                                   flaky_max_failures=settings.flaky_max_failures)
    app.state.failures = {}  # event id -> 500s answered in a row
    app.state.tasks = set()
    # One client for every answer: a client per answer loaded the TLS trust store each
    # time, four fifths of the simulator's CPU while a burst of placements came in.
    app.state.gateway = httpx.AsyncClient(base_url=settings.gateway_url, timeout=10)

    async def answer(event_id: str, path: str, payload: dict, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        body = json.dumps(payload).encode()
        status_code, response = None, None
        client: httpx.AsyncClient = app.state.gateway
        for attempt in range(1, settings.answer_attempts + 1):
            try:
                # The same Idempotency-Key on every try: a retry after a lost answer
                # gets the first answer back instead of acting twice.
                result = await client.post(path, content=body, headers=signed_headers(
                    settings, "POST", path, body, f"sim-{event_id}"))
                status_code = result.status_code
                response = _body(result)
                if status_code < 500:
                    break
            except httpx.HTTPError as exc:
                response = repr(exc)
            await asyncio.sleep(backoff_delay(attempt + 1, base=0.5, cap=10))
        ANSWERS_SENT.labels("ok" if status_code and status_code < 300 else "failed").inc()
        log.info("simulator.answered", event_id=event_id, path=path, status_code=status_code)
        app.state.answers.append(Answer(at=datetime.now(UTC), event_id=event_id, path=path,
                                        request=payload, status_code=status_code, response=response))

    @app.post("/webhooks", summary="The agency's webhook endpoint")
    async def webhook(request: Request) -> JSONResponse:
        raw = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        valid = signature_valid(settings.agency_secret, headers, raw)
        state: PolicyState = app.state.policy
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        event_id = headers.get("webhook-id")
        if not valid:
            status, outcome = 401, "bad_signature"
        elif (state.policy == "flaky" and random.random() < state.flaky_rate
              and app.state.failures.get(event_id, 0) < state.flaky_max_failures):
            app.state.failures[event_id] = app.state.failures.get(event_id, 0) + 1
            status, outcome = 500, "failed_on_purpose"
        else:
            status, outcome = 200, "accepted"
        app.state.received.append(Received(
            at=datetime.now(UTC), event_id=event_id,
            event_type=message.get("type") if isinstance(message, dict) else None,
            signature_valid=valid, answered_with_status=status, headers=headers, body=message,
        ))
        WEBHOOKS_RECEIVED.labels(outcome).inc()
        if status == 200 and event_id and event_id not in app.state.answered_events:
            planned = planned_answer(state.policy, message, settings.refusal_reason)
            if planned is not None:
                app.state.answered_events.add(event_id)
                delay = state.delay_seconds if state.policy == "delay" else 0.0
                task = asyncio.create_task(answer(event_id, *planned, delay))
                app.state.tasks.add(task)
                task.add_done_callback(app.state.tasks.discard)
        return JSONResponse({"status": outcome}, status_code=status)

    @app.get("/received", response_model=list[Received], summary="Webhooks received, oldest first")
    async def received() -> list[Received]:
        return list(app.state.received)

    @app.get("/answers", response_model=list[Answer], summary="Answers sent to the gateway")
    async def answers() -> list[Answer]:
        return list(app.state.answers)

    @app.get("/policy", response_model=PolicyState)
    async def get_policy() -> PolicyState:
        return app.state.policy

    @app.put("/policy", response_model=PolicyState, summary="Change how the agency answers")
    async def set_policy(body: PolicyState) -> PolicyState:
        app.state.policy = body
        return body

    add_health_and_metrics(app, {})
    return app
