"""The AsyncAPI 3 document of every topic and event type, generated from the event models
(`relance.events`) and the topics (`relance.topics`), so the contract cannot drift from
the code: `relance asyncapi` writes it to docs/asyncapi.yaml (committed; a test fails
when a model changes without it) and every service serves it at `/asyncapi`."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import yaml
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from relance import topics
from relance.events import EVENT_TYPES, EventEnvelope, EventPayload

ASYNCAPI_VERSION = "3.0.0"
DOCUMENT_VERSION = "1.0.0"
DEFAULT_PATH = "docs/asyncapi.yaml"
REF_TEMPLATE = "#/components/schemas/{model}"

TOPIC_DESCRIPTIONS: dict[str, str] = {
    topics.CLIENT_EVENTS: "Facts about client accounts: creation, changes, collector, notes, attachments.",
    topics.ITEM_EVENTS: "Facts about items (invoices, credit notes): imports, payments, moves, statuses.",
    topics.DOSSIER_EVENTS: "Facts about dossiers: opened, specific actions created.",
    topics.CONTACT_EVENTS: "Facts about contacts and their channels (F-21, F-22).",
    topics.INTERVENTION_EVENTS: "Facts about scenario and action steps (interventions).",
    topics.TRANSFER_EVENTS: (
        "Transfers to collection agencies (F-27 … F-30), written by the dossier and the transfer workflow."
    ),
    topics.AGENCY_EVENTS: "What agencies told the transfer gateway (F-31).",
    topics.COMMUNICATION_COMMANDS: "Commands to the notifier: render a template and send it (F-32).",
    topics.COMMUNICATION_EVENTS: "The notifier's outcomes: sent, failed, delivery reports.",
    topics.ERP_EVENTS: (
        "What the ERP publishes (F-42): clients, items and payments, applied by the dossier"
        " service through the same checks and upserts as a file import (F-3). Key: the client's"
        " ERP code; `client_id` and `aggregate_id` of the envelope carry ERP keys."
    ),
}

# Which service writes each topic (through its transactional outbox) and which read it.
TOPIC_PRODUCERS: dict[str, list[str]] = {
    topics.CLIENT_EVENTS: ["dossier"],
    topics.ITEM_EVENTS: ["dossier"],
    topics.DOSSIER_EVENTS: ["dossier"],
    topics.CONTACT_EVENTS: ["dossier"],
    topics.INTERVENTION_EVENTS: ["dossier"],
    topics.TRANSFER_EVENTS: ["dossier"],
    topics.AGENCY_EVENTS: ["transfer-gateway"],
    topics.COMMUNICATION_COMMANDS: ["dossier"],
    topics.COMMUNICATION_EVENTS: ["notifier"],
    topics.ERP_EVENTS: ["erp"],
}


def message_name(model: type[EventPayload]) -> str:
    """The message's id in the document: its event type and schema version."""
    return f"{model.event_type.replace('.', '_')}_v{model.schema_version}"


def _event_models() -> list[type[EventPayload]]:
    return sorted(EVENT_TYPES.values(), key=lambda m: (m.topic, m.event_type, m.schema_version))


def _schemas(models: list[type[BaseModel]]) -> dict[str, Any]:
    _, top = models_json_schema([(m, "serialization") for m in models], ref_template=REF_TEMPLATE)
    return dict(sorted(top.get("$defs", {}).items()))


def build_document() -> dict[str, Any]:
    """The AsyncAPI 3 document, as plain data (sorted, so the text is stable)."""
    models = _event_models()
    schemas = _schemas([EventEnvelope, *models])
    envelope = schemas["EventEnvelope"]
    envelope["description"] = (
        "Every Kafka message's value: the envelope, JSON encoded; `payload` is the event "
        "type's own model. The message key is `client_id`, so one client's events stay "
        "in order on one partition. Consumers deduplicate on `event_id` (delivery is at "
        "least once). Fields are only ever added; a breaking change gets a new "
        "`schema_version`."
    )

    messages: dict[str, Any] = {}
    for model in models:
        name = message_name(model)
        messages[name] = {
            "name": model.event_type,
            "title": f"{model.event_type} (schema version {model.schema_version})",
            "summary": _first_line(model.__doc__) or f"The {model.event_type} event.",
            "contentType": "application/json",
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/EventEnvelope"},
                    {
                        "type": "object",
                        "properties": {
                            "event_type": {"const": model.event_type},
                            "schema_version": {"const": model.schema_version},
                            "payload": {"$ref": REF_TEMPLATE.format(model=model.__name__)},
                        },
                    },
                ]
            },
            "bindings": {"kafka": {
                "key": {"type": "string", "description": "The client's id (`client_id` of the envelope)"},
                "bindingVersion": "0.5.0",
            }},
        }

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in topics.ALL_TOPICS:
        channel_id = topic.replace(".", "_")
        on_topic = [m for m in models if m.topic == topic]
        channels[channel_id] = {
            "address": topic,
            "title": topic,
            "description": TOPIC_DESCRIPTIONS.get(topic, ""),
            "messages": {
                message_name(m): {"$ref": f"#/components/messages/{message_name(m)}"} for m in on_topic
            },
            "bindings": {"kafka": {"topic": topic, "partitions": topics.DEFAULT_PARTITIONS,
                                   "bindingVersion": "0.5.0"}},
        }
        producers = ", ".join(TOPIC_PRODUCERS.get(topic, []))
        operations[f"publish_{channel_id}"] = {
            "action": "send",
            "title": f"Publish to {topic}",
            "summary": f"Written by the {producers} service through its transactional outbox; "
                       "the relay publishes each row at least once.",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [
                {"$ref": f"#/channels/{channel_id}/messages/{message_name(m)}"} for m in on_topic
            ],
        }

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:relance:events",
        "info": {
            "title": "Relance events",
            "version": DOCUMENT_VERSION,
            "description": (
                "Every Kafka topic of Relance and every event type written to it, generated "
                "from the event models (`relance.events`). Do not edit by hand: run "
                "`relance asyncapi`."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The broker of the development stack (KAFKA_BOOTSTRAP_SERVERS)",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def _first_line(doc: str | None) -> str:
    if not doc:
        return ""
    paragraph = doc.strip().split("\n\n")[0]
    return " ".join(paragraph.split())


@cache
def render_yaml() -> str:
    return "# Generated by `relance asyncapi` from relance.events: do not edit by hand.\n" + yaml.safe_dump(
        build_document(), sort_keys=False, allow_unicode=True, width=100
    )


def add_asyncapi_route(app: FastAPI) -> None:
    """`GET /asyncapi`: the document, YAML (or JSON when the caller accepts only JSON)."""

    @app.get(
        "/asyncapi",
        tags=["operations"],
        summary="The AsyncAPI 3 document of every Kafka topic and event",
        responses={200: {"content": {"application/yaml": {"schema": {"type": "object"}},
                                     "application/json": {"schema": {"type": "object"}}},
                         "description": "The AsyncAPI document"}},
        response_class=Response,
    )
    async def asyncapi(request: Request) -> Response:
        accept = request.headers.get("accept", "")
        if "json" in accept and "yaml" not in accept:
            return Response(json.dumps(build_document()), media_type="application/json")
        return Response(render_yaml(), media_type="application/yaml")
