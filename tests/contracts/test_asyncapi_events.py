"""The AsyncAPI document is what the platform really writes: every event in the services'
outboxes during the session (the other tests', the fuzzer's, the access matrix's, and a
client's life started here) validates against the message of its type and version in
the document. Runs last (tests/contracts/conftest.py), so it sees the whole session."""

import json
from collections import Counter

import jsonschema

from relance.asyncapi import build_document
from relance.events import EVENT_TYPES
from tests.conftest import eventually
from tests.stack import ALL_OUTBOXES


async def test_every_event_written_matches_its_documented_message(dossier_api, db) -> None:
    created = await dossier_api.post("/clients", json={
        "code": "C-ASYNCAPI", "name": "Events Ltd",
        "contacts": [{"name": "Ada", "channels": [{"type": "email", "value": "ada@example.com",
                                                    "state": "validated", "is_default": True}]}],
        "items": [{"number": "INV-EV-1", "kind": "invoice", "due_date": "2026-10-01",
                   "amount": "10.00", "open_amount": "10.00", "currency": "EUR"}]})
    assert created.status_code in (201, 409), created.text
    await dossier_api.post("/clients/C-ASYNCAPI/notes", json={"text": "an event"})

    async def rows():
        found = await db.fetch(f"SELECT event FROM {ALL_OUTBOXES} ORDER BY id DESC LIMIT 20000")
        return found if len(found) >= 5 else None

    document = json.loads(json.dumps(build_document()))
    validators: dict[tuple[str, int], jsonschema.Draft202012Validator] = {}
    from relance.asyncapi import message_name

    for key, model in EVENT_TYPES.items():
        validators[key] = jsonschema.Draft202012Validator(
            {**document, "$ref": f"#/components/messages/{message_name(model)}/payload"})
    seen: Counter = Counter()
    problems: list[str] = []
    for row in await eventually(rows, timeout=30):
        event = row["event"] if isinstance(row["event"], dict) else json.loads(row["event"])
        key = (event["event_type"], event["schema_version"])
        seen[key] += 1
        if event.get("payload_claim"):
            continue  # its payload stays with the dossier (relance.claims): nothing to check here
        if key not in validators:
            problems.append(f"undocumented event type {key}")
            continue
        error = next(iter(validators[key].iter_errors(event)), None)
        if error is not None and seen[key] <= 3:
            problems.append(f"{key}: {list(error.path)} {error.message[:200]}")
    assert problems == [], "\n".join(problems)
    assert {("client.created", 1), ("client.note_added", 1), ("contact.created", 1)} <= set(seen)
