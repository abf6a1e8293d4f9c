"""The transfer gateway: the API collection agencies integrate with (F-31), and the
admin API of the agencies registry and webhook deliveries."""

import asyncpg
from fastapi import FastAPI

from relance.health import postgres_check
from relance.observability import HealthCheck, add_health_and_metrics
from relance_dossier.api.errors import install_error_handlers
from relance_gateway.api import admin, agency
from relance_gateway.domain.secret_box import SecretBox
from relance_gateway.messaging.webhooks import WebhookDispatcher
from relance_gateway.settings import Settings

DESCRIPTION = """
The API collection agencies integrate with (F-31). Relance **places** transfer dossiers
with an agency and may later **request their cancellation**; the agency **acknowledges**
placements, **validates or refuses** cancellation requests (a refusal needs a reason),
and reports **payments collected** and **status updates**. An agency sees only its own
placements: any other transfer id answers 404.

## Receiving placements and cancellation requests
* **Webhooks**: when your agency has a webhook URL, each message is POSTed to it as JSON
  (see the `Message` schema) with the headers `X-Relance-Event-Id` (deduplicate on it: a
  message can arrive twice), `X-Relance-Event-Type` (`placement` or
  `cancellation_request`), `X-Relance-Timestamp` and `X-Relance-Signature`. Answer 2xx
  once stored; any other answer or a timeout is retried with exponential backoff and
  jitter, then parked as a dead letter that Relance operators can replay.
* **Pull API**: `GET /agency/v1/messages` lists the messages you have not acknowledged
  yet; `POST /agency/v1/messages/{id}/ack` acknowledges one.

## Signing requests (both directions)
Every request you send carries:

| header | value |
|---|---|
| `X-Agency-Key` | your API key |
| `X-Relance-Timestamp` | the current unix time in seconds |
| `X-Relance-Signature` | `v1=` + hex HMAC-SHA256, keyed by your signing secret, of `"{timestamp}.{raw body}"` |
| `Idempotency-Key` | on every POST: a unique value per operation (e.g. a UUID) |

A timestamp more than 300 s away from Relance's clock is refused (401). During a secret
rotation both active secrets verify; the webhooks Relance sends you carry one `v1=`
entry per active secret, space separated: accept the message if any entry matches.
Compare signatures in constant time. Sending a POST again with the same
`Idempotency-Key` and the same body returns the first answer (header
`Idempotent-Replayed: true`); the same key with another body answers 422.

```python
import hashlib, hmac, json, time, uuid
import httpx

API_KEY, SECRET = "ak_…", "whsec_…"
body = json.dumps({"agency_reference": "RCV-2026-00042"}).encode()
timestamp = str(int(time.time()))
signature = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
httpx.post(
    f"https://relance.example/agency/v1/placements/{transfer_id}/acknowledgement",
    content=body,
    headers={"Content-Type": "application/json", "X-Agency-Key": API_KEY,
             "X-Relance-Timestamp": timestamp, "X-Relance-Signature": f"v1={signature}",
             "Idempotency-Key": str(uuid.uuid4())},
)

# Verifying a webhook from Relance:
def verify(secret: str, headers, raw_body: bytes) -> bool:
    ts = headers["X-Relance-Timestamp"]
    if abs(time.time() - int(ts)) > 300:
        return False
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + raw_body, hashlib.sha256).hexdigest()
    offered = [p.removeprefix("v1=") for p in headers["X-Relance-Signature"].split()]
    return any(hmac.compare_digest(expected, o) for o in offered)
```

Errors always have the shape `{"errors": [{"field": …, "reason": …}]}`.

The `/admin` endpoints are for Relance administrators (bearer API token).
"""


def create_app(
    settings: Settings,
    pool: asyncpg.Pool,
    dispatcher: WebhookDispatcher,
    secret_box: SecretBox,
    extra_checks: dict[str, HealthCheck] | None = None,
) -> FastAPI:
    app = FastAPI(
        title="Relance transfer gateway",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "agency API v1", "description": "Signed requests from collection agencies"},
            {"name": "admin", "description": "Agencies registry and webhook deliveries (admins)"},
        ],
    )
    app.state.settings = settings
    app.state.pool = pool
    app.state.dispatcher = dispatcher
    app.state.secret_box = secret_box
    install_error_handlers(app)
    app.include_router(agency.router)
    app.include_router(admin.router)
    app.include_router(admin.choices)
    add_health_and_metrics(app, {"postgres": postgres_check(pool), **(extra_checks or {})})
    _require_all_agency_headers_together(app)
    return app


def _require_all_agency_headers_together(app: FastAPI) -> None:
    """FastAPI lists each header scheme as an alternative; an agency needs all three."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    security = operation.get("security")
                    if isinstance(security, list) and len(security) > 1:
                        operation["security"] = [{k: v for req in security for k, v in req.items()}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
