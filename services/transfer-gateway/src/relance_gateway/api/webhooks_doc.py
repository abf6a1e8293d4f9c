"""The gateway's outgoing webhooks in its OpenAPI `webhooks` section (OpenAPI 3.1): what
Relance POSTs to an agency's webhook URL, with the Standard Webhooks signature headers,
and what the agency answers. Also the statuses only the gateway answers (503 when the
dossier service, which checks admin tokens, cannot answer)."""

from relance_gateway.domain.signatures import (
    WEBHOOK_ID_HEADER,
    WEBHOOK_SIGNATURE_HEADER,
    WEBHOOK_TIMESTAMP_HEADER,
)
from relance_gateway.messaging.webhooks import ATTEMPT_HEADER, DELIVERY_ID_HEADER

SIGNATURE_HEADERS = [
    {"name": WEBHOOK_ID_HEADER, "in": "header", "required": True,
     "description": "The message id (the `id` of the body), the same on every retry: deduplicate on it.",
     "schema": {"type": "string", "format": "uuid"}, "example": "0b7c5e1e-8a51-4a8e-9a43-1f3c1c0f6b10"},
    {"name": WEBHOOK_TIMESTAMP_HEADER, "in": "header", "required": True,
     "description": "Unix time in seconds of this attempt; refuse one too far from your clock.",
     "schema": {"type": "string", "pattern": "^[0-9]+$"}, "example": "1795770000"},
    {"name": WEBHOOK_SIGNATURE_HEADER, "in": "header", "required": True,
     "description": "Space-separated `v1,<base64 HMAC-SHA256 of \"{webhook-id}.{webhook-timestamp}."
                    "{raw body}\">`, one entry per active signing secret (keyed by the base64-decoded "
                    "part of your `whsec_` secret). Verify with the official `standardwebhooks` library.",
     "schema": {"type": "string"}, "example": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="},
    {"name": DELIVERY_ID_HEADER, "in": "header", "required": False,
     "description": "Informative, not signed: the delivery's id in Relance.",
     "schema": {"type": "string", "format": "uuid"}},
    {"name": ATTEMPT_HEADER, "in": "header", "required": False,
     "description": "Informative, not signed: which attempt this is (1, 2, …).",
     "schema": {"type": "string", "pattern": "^[0-9]+$"}},
]

WEBHOOKS = {
    "placement": "A transfer dossier is placed with your agency (F-27): its client and items.",
    "cancellation_request": "Relance asks you to cancel a placement (F-29): validate or refuse "
                            "it with the agency API.",
}


def describe_webhooks(schema: dict) -> None:
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    message = schemas.get("Message", {})
    examples = {e["type"]: e for e in message.get("examples", []) if isinstance(e, dict) and "type" in e}
    webhooks = {}
    for kind, summary in WEBHOOKS.items():
        media = {"schema": {"$ref": "#/components/schemas/Message"}}
        if kind in examples:
            media["example"] = examples[kind]
        webhooks[kind] = {"post": {
            "summary": f"Message of type `{kind}`, POSTed to your webhook URL",
            "description": summary + " Answer 2xx once stored; any other answer or a timeout "
                           "is retried with exponential backoff and jitter, then becomes a dead "
                           "letter that Relance operators can replay.",
            "operationId": f"webhook_{kind}",
            "tags": ["webhooks"],
            "parameters": SIGNATURE_HEADERS,
            "requestBody": {"required": True, "content": {"application/json": media}},
            "responses": {
                "2XX": {"description": "Stored: the message is not sent again"},
                "default": {"description": "Not stored: retried with backoff, then a dead letter"},
            },
        }}
    schema["webhooks"] = webhooks
    schema.setdefault("tags", []).append(
        {"name": "webhooks", "description": "What Relance POSTs to your webhook URL (Standard Webhooks)"})
    # The admin API asks the dossier service who a bearer token is: 503 when it cannot.
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith("/admin/"):
            continue
        for operation in operations.values():
            operation.setdefault("responses", {}).setdefault("503", {
                "description": "The dossier service, which checks API tokens, cannot answer; retry",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
            })
