"""The transfer gateway: the API collection agencies integrate with (F-31), and the
admin API of the agencies registry and webhook deliveries."""

import asyncpg
import httpx
from fastapi import FastAPI

from relance.api.errors import install_error_handlers
from relance.api.openapi import document_api
from relance.health import postgres_check
from relance.observability import HealthCheck, add_health_and_metrics
from relance_gateway.api import admin, agency, internal
from relance_gateway.api.admins import TokenIntrospection
from relance_gateway.api.webhooks_doc import describe_webhooks
from relance_gateway.domain.secret_box import SecretBox
from relance_gateway.messaging.webhooks import WebhookDispatcher
from relance_gateway.settings import Settings

DESCRIPTION = r"""
The API collection agencies integrate with (F-31). Relance **places** transfer dossiers
with an agency and may later **request their cancellation**; the agency **acknowledges**
placements, **validates or refuses** cancellation requests (a refusal needs a reason),
and reports **payments collected** and **status updates**. An agency sees only its own
placements: any other transfer id answers 404.

## Receiving placements and cancellation requests
* **Webhooks**: when your agency has a webhook URL (https, on a public address), each
  message is POSTed to it as JSON (see the `Message` schema; its `type` is `placement`
  or `cancellation_request`), signed by the [Standard Webhooks](https://www.standardwebhooks.com/)
  specification: the headers `webhook-id` (the message id, the same on every retry:
  deduplicate on it, a message can arrive twice), `webhook-timestamp` (unix seconds) and
  `webhook-signature` (`v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{raw body}">`,
  keyed by your signing secret). Verify them with the official `standardwebhooks` library
  of your language and your `whsec_…` secret as it is. During a secret rotation the
  header carries one `v1,…` entry per active secret, space separated; the library
  accepts the message if any entry matches. Answer 2xx once stored; any other answer or
  a timeout is retried with exponential backoff and jitter, then parked as a dead letter
  that Relance operators can replay. (`X-Relance-Delivery-Id` and
  `X-Relance-Delivery-Attempt` are informative and not signed.)
* **Pull API**: `GET /agency/v1/messages` lists the messages you have not acknowledged
  yet; `POST /agency/v1/messages/{id}/ack` acknowledges one.

## Signing requests
Your signing secret is `whsec_` followed by base64; the HMAC key is the base64-decoded
part, as in the webhooks. (A secret issued before this format cannot sign webhooks your
library verifies: ask Relance to rotate it.) Every request you send carries:

| header | value |
|---|---|
| `X-Agency-Key` | your API key |
| `X-Relance-Timestamp` | the current unix time in seconds |
| `X-Relance-Nonce` | a new value for every request, e.g. a UUID (8 to 128 letters, digits, `.` `_` `:` `-`) |
| `X-Relance-Signature` | `v2=` + hex HMAC-SHA256 of the six lines below |
| `Idempotency-Key` | on every POST: a unique value per operation (e.g. a UUID) |

The signed content is these values joined by a newline (`\n`), the body last, as sent:

    {timestamp}
    {nonce}
    {METHOD}                      (GET, POST)
    {path}                        as in the request line, with its query string: /agency/v1/placements?status=placed
    {Idempotency-Key}             empty on a GET
    {raw body}                    empty on a GET

So a signature is valid for one request only: another transfer, method, operation,
Idempotency-Key or body does not verify. A timestamp more than 300 s away from Relance's
clock is refused (401), and so is a signed request already received within those 300 s:
sign every request afresh, a retry included (new timestamp and nonce, same
Idempotency-Key). During a secret rotation both active secrets verify. Sending a POST
again with the same `Idempotency-Key` and the same body returns the first answer
(header `Idempotent-Replayed: true`); the same key with another body answers 422.

```python
import base64, hashlib, hmac, json, time, uuid
import httpx
from standardwebhooks import Webhook

API_KEY, SECRET = "ak_…", "whsec_…"
KEY = base64.b64decode(SECRET.removeprefix("whsec_"))

def signed(method: str, path: str, body: bytes = b"", idempotency_key: str = "") -> dict:
    timestamp, nonce = str(int(time.time())), str(uuid.uuid4())
    content = "\n".join([timestamp, nonce, method, path, idempotency_key]).encode() + b"\n" + body
    headers = {"X-Agency-Key": API_KEY, "X-Relance-Timestamp": timestamp, "X-Relance-Nonce": nonce,
               "X-Relance-Signature": "v2=" + hmac.new(KEY, content, hashlib.sha256).hexdigest()}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return headers

path = f"/agency/v1/placements/{transfer_id}/acknowledgement"
body = json.dumps({"agency_reference": "RCV-2026-00042"}).encode()
httpx.post(f"https://relance.example{path}", content=body,
           headers={"Content-Type": "application/json",
                    **signed("POST", path, body, idempotency_key=str(uuid.uuid4()))})

# Verifying a webhook from Relance (raises WebhookVerificationError when it does not verify):
def on_webhook(headers, raw_body: bytes) -> dict:
    return Webhook(SECRET).verify(raw_body, headers)
```

Errors always have the shape `{"errors": [{"field": …, "reason": …}]}`.

The `/admin` endpoints are for Relance administrators (the bearer API token of a Relance
user with the admin role, checked by the dossier service).
"""


def create_app(
    settings: Settings,
    pool: asyncpg.Pool,
    dispatcher: WebhookDispatcher,
    secret_box: SecretBox,
    introspection: TokenIntrospection,
    extra_checks: dict[str, HealthCheck] | None = None,
    http: httpx.AsyncClient | None = None,
) -> FastAPI:
    """`http` is the service's one HTTP client (its connections kept), for the calls the
    API makes to the dossier service (a placement's documents)."""
    app = FastAPI(
        title="Relance transfer gateway",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "agency API v1", "description": "Signed requests from collection agencies"},
            {"name": "admin", "description": "Agencies registry and webhook deliveries (admins)"},
        ],
        # Served from the service itself (relance.api.openapi), not from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.pool = pool
    app.state.dispatcher = dispatcher
    app.state.secret_box = secret_box
    app.state.introspection = introspection
    app.state.http = http
    install_error_handlers(app)
    app.include_router(agency.router)
    app.include_router(admin.router)
    app.include_router(admin.choices)
    app.include_router(internal.router)
    add_health_and_metrics(app, {"postgres": postgres_check(pool), **(extra_checks or {})})
    document_api(app, extend=describe_webhooks)
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
