"""The AsyncAPI document: generated from the event models, valid AsyncAPI 3.0.0 (against the
specification's own JSON schema, vendored from @asyncapi/specs with its licence), complete
(every topic, every event type), committed up to date, and served at `/asyncapi`."""

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import httpx
import jsonschema
import pytest
import yaml
from fastapi import FastAPI

from relance import topics
from relance.asyncapi import DEFAULT_PATH, build_document, message_name, render_yaml
from relance.events import EVENT_TYPES, EventPayload
from relance.observability import add_health_and_metrics
from relance_devstack.cli import main as relance

ROOT = Path(__file__).resolve().parents[2]
SPEC_SCHEMA = Path(__file__).with_name("asyncapi-3.0.0.schema.json")


def _refs(node, found: list[str]) -> list[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.append(value)
            else:
                _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)
    return found


def _resolve(document: dict, ref: str):
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_the_committed_document_is_the_one_the_event_models_generate() -> None:
    committed = (ROOT / DEFAULT_PATH).read_text(encoding="utf-8")
    assert committed == render_yaml(), (
        f"{DEFAULT_PATH} is out of date with relance.events: run `relance asyncapi` and commit it"
    )


def test_relance_asyncapi_check_fails_on_a_stale_file_and_writes_a_fresh_one(tmp_path: Path) -> None:
    target = tmp_path / "asyncapi.yaml"
    target.write_text(render_yaml().replace("client.created", "client.made"), encoding="utf-8")
    assert relance(["asyncapi", "--check", "-o", str(target)]) == 1
    assert relance(["asyncapi", "-o", str(target)]) == 0
    assert relance(["asyncapi", "--check", "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render_yaml()


def test_a_changed_event_model_changes_the_document(monkeypatch: pytest.MonkeyPatch) -> None:
    before = build_document()

    class ItemCreatedV2(EventPayload):
        event_type = "item.created"
        schema_version = 2
        topic = topics.ITEM_EVENTS
        item_id: str

    monkeypatch.setitem(EVENT_TYPES, ("item.created", 2), ItemCreatedV2)
    after = build_document()
    assert after != before
    assert "item_created_v2" in after["channels"]["item_events"]["messages"]


def test_the_document_is_valid_asyncapi_3_and_every_reference_resolves() -> None:
    document = yaml.safe_load(render_yaml())
    schema = json.loads(SPEC_SCHEMA.read_text(encoding="utf-8"))
    errors = [f"{list(e.path)}: {e.message[:200]}"
              for e in jsonschema.Draft7Validator(schema).iter_errors(document)]
    assert errors == []
    for ref in _refs(document, []):
        _resolve(document, ref)


def test_every_topic_and_every_event_type_is_documented_on_its_topic() -> None:
    document = build_document()
    addresses = {c["address"]: c for c in document["channels"].values()}
    assert set(addresses) == set(topics.ALL_TOPICS)
    assert len(document["components"]["messages"]) == len(EVENT_TYPES) >= 35
    for model in EVENT_TYPES.values():
        assert message_name(model) in addresses[model.topic]["messages"], model
    for operation in document["operations"].values():
        assert operation["action"] == "send"


@pytest.mark.parametrize("model", sorted(EVENT_TYPES.values(), key=message_name), ids=message_name)
def test_each_message_schema_accepts_its_events_and_refuses_another_type(model) -> None:
    """A real envelope of the event validates against its documented message; the same
    envelope with another event type or a payload missing a field does not."""
    document = json.loads(json.dumps(build_document()))
    validator = jsonschema.Draft202012Validator(
        {**document, "$ref": f"#/components/messages/{message_name(model)}/payload"}
    )
    envelope = json.loads(_sample(model).envelope(aggregate_id=uuid4(), client_id=uuid4()).model_dump_json())
    assert list(validator.iter_errors(envelope)) == []
    assert not validator.is_valid({**envelope, "event_type": "something.else"})
    required = document["components"]["schemas"][model.__name__].get("required", [])
    if required:
        payload = {k: v for k, v in envelope["payload"].items() if k != required[0]}
        assert not validator.is_valid({**envelope, "payload": payload})


def _sample(model: type[EventPayload]) -> EventPayload:
    """An instance of `model` with a value for every field, built from its JSON schema."""
    schema = model.model_json_schema()
    values = {}
    for name, field in model.model_fields.items():
        values[name] = _value(field.annotation, schema["properties"][name], schema.get("$defs", {}))
    return model.model_validate(values)


def _value(annotation, prop: dict, defs: dict):
    if "$ref" in prop:
        sub = defs[prop["$ref"].split("/")[-1]]
        return {k: _value(None, p, defs) for k, p in sub["properties"].items()}
    if "anyOf" in prop:
        return _value(None, next(p for p in prop["anyOf"] if p.get("type") != "null"), defs)
    kind, fmt = prop.get("type"), prop.get("format")
    if kind == "array":
        return [_value(None, prop["items"], defs)]
    if kind == "object":
        return {"field": "value"}
    if fmt == "uuid":
        return str(uuid4())
    if fmt == "date-time":
        return "2026-01-02T03:04:05+00:00"
    if fmt == "date":
        return date(2026, 1, 2).isoformat()
    if kind == "integer":
        return 3
    if kind == "number" or prop.get("pattern", "").startswith("^(?!^[-+.]*$)"):
        return str(Decimal("12.50"))
    if kind == "boolean":
        return True
    return "text"


async def test_every_api_serves_the_document_at_asyncapi() -> None:
    app = FastAPI()
    add_health_and_metrics(app, {})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        as_yaml = await client.get("/asyncapi")
        as_json = await client.get("/asyncapi", headers={"Accept": "application/json"})
    assert as_yaml.status_code == 200
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert as_yaml.text == render_yaml()
    assert as_json.json() == json.loads(json.dumps(build_document()))



def test_every_running_service_serves_the_document(platform) -> None:
    """The dossier, the gateway, the notifier, the workflow worker, the relay and the
    agency simulator, as the real processes of the stack."""
    assert {"dossier", "transfer-gateway", "notifier", "workflow", "relay"} <= set(platform.running)
    for name, service in platform.running.items():
        response = httpx.get(f"{service.url}/asyncapi", timeout=10)
        assert response.status_code == 200, name
        assert response.text == render_yaml(), name
