"""The dossier API on the real stack: creating a client account with its contacts and
items, reading its card, interventions and communication trace (F-1, F-2, F-10, F-21,
F-23), the error shape of rejected requests, and the outbox written with the change."""

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.conftest import eventually

TODAY = date.today()


def new_code(prefix: str = "API") -> str:
    return f"{prefix}-{uuid4().hex[:12]}"


def invoice(number: str, amount: str, *, due_in_days: int = 30, **extra: Any) -> dict[str, Any]:
    return {"number": number, "due_date": str(TODAY + timedelta(days=due_in_days)), "amount": amount, **extra}


async def import_many_invoices(api: httpx.AsyncClient, code: str, count: int, *, amount: str,
                               due_in_days: int, prefix: str = "BIG-") -> None:
    """`count` invoices numbered prefix00000… for client `code`, through the JSON Lines import."""
    due = str(TODAY + timedelta(days=due_in_days))
    rows = "\n".join(
        f'{{"client_code": "{code}", "number": "{prefix}{n:05d}", "due_date": "{due}", "amount": "{amount}"}}'
        for n in range(count))
    imported = await api.post("/imports/items", content=rows, headers={"Content-Type": "application/x-ndjson"})
    assert imported.status_code == 200, imported.text
    assert imported.json()["error_count"] == 0, imported.text


def client_body(code: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "name": "Transports Martin SARL",
        "country": "FR",
        "segment": "SME",
        "tags": ["transport"],
        "items": [invoice("F-1001", "1200.00")],
    }
    body.update(overrides)
    return body


def errors_of(response) -> list[tuple[str | None, str]]:
    body = response.json()
    assert set(body) == {"errors"}, body
    assert body["errors"], body
    for error in body["errors"]:
        assert set(error) == {"field", "reason"}, error
        assert error["reason"], error
    return [(e["field"], e["reason"]) for e in body["errors"]]


async def outbox_rows_for_code(db, code: str) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM outbox WHERE event->'payload'->>'code' = $1"
        " OR event->'payload'->>'client_code' = $1",
        code,
    )


async def assert_nothing_written(dossier_api, db, code: str) -> None:
    """After a rejected creation the client does not exist, and no event announces it."""
    response = await dossier_api.get(f"/clients/{code}")
    assert response.status_code == 404, response.text
    assert await outbox_rows_for_code(db, code) == 0
    assert await db.fetchval("SELECT count(*) FROM clients WHERE code = $1", code) == 0


# ---- creating a client and reading its card --------------------------------------------


async def test_f1_new_client_card_shows_its_attributes_active_dossier_and_open_items(dossier_api) -> None:
    code = new_code()
    response = await dossier_api.post(
        "/clients",
        json=client_body(
            code,
            category="B2B",
            risk="low",
            items=[
                invoice("F-2001", "1200.00", due_in_days=-10),
                invoice("F-2002", "300.00", due_in_days=20, issue_date=str(TODAY - timedelta(days=10))),
            ],
        ),
    )

    assert response.status_code == 201, response.text
    card = response.json()
    client = card["client"]
    assert (client["code"], client["name"], client["country"]) == (code, "Transports Martin SARL", "FR")
    assert (client["segment"], client["category"], client["risk"]) == ("SME", "B2B", "low")
    assert client["tags"] == ["transport"]
    assert card["active_dossier"]["kind"] == "active"
    assert card["active_dossier"]["closed_at"] is None
    assert card["transfer_dossiers"] == []
    numbers = [i["number"] for i in card["open_items"]]
    assert numbers == ["F-2001", "F-2002"]  # oldest due date first
    for open_item in card["open_items"]:
        assert open_item["dossier_id"] == card["active_dossier"]["id"]  # F-2: one holder
        assert open_item["kind"] == "invoice"
        assert open_item["currency"] == "EUR"
        # Without an open amount, the whole amount is still due.
        assert Decimal(open_item["open_amount"]) == Decimal(open_item["amount"])
    assert Decimal(client["balance"]) == Decimal("1500.00")

    # The card read again is the card returned at creation.
    again = await dossier_api.get(f"/clients/{code}")
    assert again.status_code == 200
    assert again.json() == card


async def test_f1_balance_is_derived_from_open_items_net_of_credit_notes_and_payments(dossier_api) -> None:
    code = new_code()
    response = await dossier_api.post(
        "/clients",
        json=client_body(
            code,
            items=[
                invoice("F-3001", "1000.00"),
                invoice("F-3002", "845.50", open_amount="545.50"),  # partly paid
                invoice("F-3003", "99.99", open_amount="0"),  # settled (F-2)
                {"kind": "credit_note", "number": "AV-1", "due_date": str(TODAY), "amount": "200.00"},
                {"kind": "payment", "number": "RG-1", "due_date": str(TODAY), "amount": "150.00",
                 "open_amount": "45.50"},
            ],
        ),
    )

    assert response.status_code == 201, response.text
    card = (await dossier_api.get(f"/clients/{code}")).json()
    # 1000.00 + 545.50 - 200.00 - 45.50
    assert Decimal(card["client"]["balance"]) == Decimal("1300.00")
    # F-2: the settled invoice is not among the open items.
    assert sorted(i["number"] for i in card["open_items"]) == ["AV-1", "F-3001", "F-3002", "RG-1"]
    kinds = {i["number"]: i["kind"] for i in card["open_items"]}
    assert (kinds["AV-1"], kinds["RG-1"]) == ("credit_note", "payment")


async def test_f1_client_without_items_has_a_zero_balance(dossier_api) -> None:
    code = new_code()
    response = await dossier_api.post("/clients", json=client_body(code, items=[]))

    assert response.status_code == 201, response.text
    card = response.json()
    assert Decimal(card["client"]["balance"]) == 0
    assert card["open_items"] == []
    assert card["active_dossier"]["kind"] == "active"


async def test_f21_invalid_channels_are_hidden_on_the_card(dossier_api) -> None:
    code = new_code()
    response = await dossier_api.post(
        "/clients",
        json=client_body(
            code,
            contacts=[
                {
                    "name": "Service comptabilité",
                    "observation": "Contact for unpaid invoices",
                    "channels": [
                        {"type": "email", "value": "old@martin.example", "state": "invalid"},
                        {"type": "email", "value": "compta@martin.example", "state": "validated",
                         "is_default": True},
                        {"type": "phone", "value": "+33 1 23 45 67 89"},
                        {"type": "postal", "value": "1 rue du Port, 13002 Marseille", "state": "invalid"},
                    ],
                }
            ],
        ),
    )

    assert response.status_code == 201, response.text
    for card in (response.json(), (await dossier_api.get(f"/clients/{code}")).json()):
        [contact] = card["contacts"]
        assert contact["name"] == "Service comptabilité"
        assert contact["observation"] == "Contact for unpaid invoices"
        shown = {(c["type"], c["value"], c["state"], c["is_default"]) for c in contact["channels"]}
        assert shown == {
            ("email", "compta@martin.example", "validated", True),
            ("phone", "+33 1 23 45 67 89", "pending", False),  # pending by default
        }


async def test_f21_one_default_per_type_may_be_spread_over_several_contacts(dossier_api) -> None:
    code = new_code()
    response = await dossier_api.post(
        "/clients",
        json=client_body(
            code,
            contacts=[
                {"name": "Comptabilité", "channels": [
                    {"type": "email", "value": "compta@martin.example", "state": "validated", "is_default": True},
                ]},
                {"name": "Direction", "channels": [
                    {"type": "email", "value": "dg@martin.example", "state": "validated"},
                    {"type": "phone", "value": "+33 6 00 00 00 00", "state": "validated", "is_default": True},
                ]},
            ],
        ),
    )

    assert response.status_code == 201, response.text
    defaults = sorted(
        (c["type"], c["value"])
        for contact in response.json()["contacts"]
        for c in contact["channels"]
        if c["is_default"]
    )
    assert defaults == [("email", "compta@martin.example"), ("phone", "+33 6 00 00 00 00")]


# ---- outbox: the events of a creation ----------------------------------------------------


async def test_creating_a_client_writes_its_events_to_the_outbox_in_one_transaction(dossier_api, db) -> None:
    code = new_code()
    items = [invoice("F-4001", "100.00"), invoice("F-4002", "200.00"), invoice("F-4003", "300.00")]
    response = await dossier_api.post(
        "/clients",
        json=client_body(code, items=items, contacts=[{"name": "Comptabilité"}]),
    )
    assert response.status_code == 201, response.text
    card = response.json()
    client_id = card["client"]["id"]

    rows = await db.fetch(
        "SELECT id, topic, key, event_type, event, xmin::text AS tx FROM outbox"
        " WHERE event->>'client_id' = $1 ORDER BY id",
        client_id,
    )

    types = Counter(r["event_type"] for r in rows)
    assert types == {"client.created": 1, "contact.created": 1, "item.created": 3, "dossier.opened": 1}
    # One transaction wrote them all, with the state change.
    assert len({r["tx"] for r in rows}) == 1
    # The client comes first; the dossier opens once its items exist (the workflow starts on it).
    assert rows[0]["event_type"] == "client.created"
    assert rows[-1]["event_type"] == "dossier.opened"

    topic_of = {
        "client.created": "client.events",
        "contact.created": "contact.events",
        "item.created": "item.events",
        "dossier.opened": "dossier.events",
    }
    for row in rows:
        assert row["topic"] == topic_of[row["event_type"]]
        assert row["key"] == client_id  # one client's events on one partition, in order
    events = [r["event"] for r in rows]  # jsonb decoded by the pool
    # F-33: the events name the caller, as the audit entry of the same change does.
    audited_actor = await db.fetchval(
        "SELECT actor FROM audit_log WHERE client_id = $1::text::uuid AND action = 'create'", client_id
    )
    assert audited_actor and "admin" in audited_actor  # the API client is the bootstrap admin
    for event in events:
        assert event["actor"] == audited_actor
        assert event["schema_version"] == 1
    assert events[0]["payload"]["code"] == code
    item_payloads = [e["payload"] for e in events if e["event_type"] == "item.created"]
    assert sorted(p["number"] for p in item_payloads) == ["F-4001", "F-4002", "F-4003"]
    card_items = {i["number"]: i["id"] for i in card["open_items"]}
    for payload in item_payloads:
        assert payload["item_id"] == card_items[payload["number"]]
        assert payload["dossier_id"] == card["active_dossier"]["id"]
    opened = events[-1]["payload"]
    assert opened["dossier_id"] == card["active_dossier"]["id"]
    assert opened["client_code"] == code
    assert opened["kind"] == "active"


# ---- rejected requests: field and reason, and nothing half-written -----------------------


def _without_name(code: str) -> dict[str, Any]:
    body = client_body(code)
    del body["name"]
    return body


INVALID_BODIES = [
    pytest.param(_without_name, "name", id="missing-name"),
    pytest.param(lambda code: client_body(code, name=""), "name", id="empty-name"),
    pytest.param(lambda code: client_body(code, items=[invoice("F-1", "-5.00")]), "items.0.amount",
                 id="negative-amount"),
    pytest.param(lambda code: client_body(code, items=[invoice("F-1", "0")]), "items.0.amount", id="zero-amount"),
    pytest.param(lambda code: client_body(code, items=[invoice("F-1", "douze")]), "items.0.amount",
                 id="amount-not-a-number"),
    pytest.param(lambda code: client_body(code, items=[invoice("F-1", "10.001")]), "items.0.amount",
                 id="amount-beyond-cents"),
    pytest.param(lambda code: client_body(code, items=[invoice("F-1", "10.00"),
                                                       invoice("F-2", "10.00", currency="eur")]),
                 "items.1.currency", id="lowercase-currency"),
    pytest.param(lambda code: client_body(code, items=[invoice("F-1", "10.00", currency="EURO")]),
                 "items.0.currency", id="four-letter-currency"),
    pytest.param(lambda code: client_body(code, items=[invoice("F-1", "10.00", open_amount="-1.00")]),
                 "items.0.open_amount", id="negative-open-amount"),
    pytest.param(lambda code: client_body(code, items=[{"number": "F-1", "amount": "10.00"}]),
                 "items.0.due_date", id="missing-due-date"),
    pytest.param(lambda code: client_body(code, items=[invoice("F-1", "10.00", kind="quote")]),
                 "items.0.kind", id="unknown-item-kind"),
]


@pytest.mark.parametrize(("make_body", "field"), INVALID_BODIES)
async def test_invalid_client_is_rejected_naming_the_field_and_nothing_is_written(
    dossier_api, db, make_body, field: str
) -> None:
    code = new_code("BAD")
    response = await dossier_api.post("/clients", json=make_body(code))

    assert response.status_code == 422, response.text
    fields = [f for f, _ in errors_of(response)]
    assert field in fields
    await assert_nothing_written(dossier_api, db, code)


async def test_f2_open_amount_above_the_amount_is_rejected(dossier_api, db) -> None:
    code = new_code("BAD")
    response = await dossier_api.post(
        "/clients",
        json=client_body(code, items=[invoice("F-1", "100.00"), invoice("F-2", "100.00", open_amount="100.01")]),
    )

    assert response.status_code == 422, response.text
    [(field, reason)] = errors_of(response)
    assert field == "items.1.open_amount"  # the second item is at fault
    assert "exceed" in reason and "amount" in reason
    await assert_nothing_written(dossier_api, db, code)


async def test_f2_open_amount_above_the_amount_names_the_open_amount_field(dossier_api) -> None:
    response = await dossier_api.post(
        "/clients",
        json=client_body(new_code("BAD"),
                         items=[invoice("F-1", "100.00"), invoice("F-2", "100.00", open_amount="100.01")]),
    )

    assert response.status_code == 422, response.text
    assert [f for f, _ in errors_of(response)] == ["items.1.open_amount"]


async def test_duplicate_item_numbers_are_rejected(dossier_api, db) -> None:
    code = new_code("BAD")
    response = await dossier_api.post(
        "/clients",
        json=client_body(code, items=[invoice("F-1", "100.00"), invoice("F-2", "50.00"), invoice("F-1", "70.00")]),
    )

    assert response.status_code == 422, response.text
    [(field, reason)] = errors_of(response)
    assert field == "items"
    assert "unique" in reason
    await assert_nothing_written(dossier_api, db, code)


async def test_f21_two_default_emails_on_one_contact_are_rejected(dossier_api, db) -> None:
    code = new_code("BAD")
    response = await dossier_api.post(
        "/clients",
        json=client_body(code, contacts=[{"name": "Comptabilité", "channels": [
            {"type": "email", "value": "a@martin.example", "state": "validated", "is_default": True},
            {"type": "phone", "value": "+33 1 00 00 00 00", "state": "validated", "is_default": True},
            {"type": "email", "value": "b@martin.example", "state": "validated", "is_default": True},
        ]}]),
    )

    assert response.status_code == 422, response.text
    [(field, reason)] = errors_of(response)
    assert field is not None and field.startswith("contacts.0.channels")
    assert "2" in field and field.endswith("is_default")  # the second default email
    assert "default" in reason and "email" in reason
    await assert_nothing_written(dossier_api, db, code)


async def test_f21_two_default_emails_on_two_contacts_of_one_client_are_rejected(dossier_api, db) -> None:
    code = new_code("BAD")
    response = await dossier_api.post(
        "/clients",
        json=client_body(code, contacts=[
            {"name": "Comptabilité", "channels": [
                {"type": "email", "value": "a@martin.example", "state": "validated", "is_default": True},
            ]},
            {"name": "Direction", "channels": [
                {"type": "email", "value": "b@martin.example", "state": "validated", "is_default": True},
            ]},
        ]),
    )

    assert response.status_code == 422, response.text
    [(field, reason)] = errors_of(response)
    assert field is not None and field.startswith("contacts") and field.endswith("is_default")
    assert "default" in reason and "email" in reason
    await assert_nothing_written(dossier_api, db, code)


async def test_f21_second_default_email_on_another_contact_is_named_by_its_path(dossier_api) -> None:
    response = await dossier_api.post(
        "/clients",
        json=client_body(new_code("BAD"), contacts=[
            {"name": "Comptabilité", "channels": [
                {"type": "phone", "value": "+33 1 00 00 00 00"},
                {"type": "email", "value": "a@martin.example", "state": "validated", "is_default": True},
            ]},
            {"name": "Direction", "channels": [
                {"type": "email", "value": "b@martin.example", "state": "validated", "is_default": True},
            ]},
        ]),
    )

    assert response.status_code == 422, response.text
    assert [f for f, _ in errors_of(response)] == ["contacts.1.channels.0.is_default"]


@pytest.mark.parametrize("state", ["pending", "invalid"])
async def test_f21_a_default_channel_that_is_not_validated_is_rejected(dossier_api, db, state: str) -> None:
    code = new_code("BAD")
    response = await dossier_api.post(
        "/clients",
        json=client_body(code, contacts=[{"name": "Comptabilité", "channels": [
            {"type": "phone", "value": "+33 1 00 00 00 00", "state": "validated"},
            {"type": "email", "value": "a@martin.example", "state": state, "is_default": True},
        ]}]),
    )

    assert response.status_code == 422, response.text
    [(field, reason)] = errors_of(response)
    assert field is not None and field.startswith("contacts.0.channels")
    assert "1" in field and field.endswith("is_default")
    assert "validated" in reason
    await assert_nothing_written(dossier_api, db, code)


async def test_several_errors_are_reported_together(dossier_api, db) -> None:
    code = new_code("BAD")
    body = client_body(code, items=[invoice("F-1", "-1.00", currency="eur")])
    del body["name"]

    response = await dossier_api.post("/clients", json=body)

    assert response.status_code == 422, response.text
    fields = {f for f, _ in errors_of(response)}
    assert {"name", "items.0.amount", "items.0.currency"} <= fields
    await assert_nothing_written(dossier_api, db, code)


async def post_on_its_own_connection(dossier_api, body: dict[str, Any]):
    """A request that fails inside the server may cost its connection: send it on a
    client of its own so the shared client's connections stay usable."""
    async with httpx.AsyncClient(base_url=dossier_api.base_url, headers=dossier_api.headers, timeout=30) as client:
        return await client.post("/clients", json=body)


def body_with_a_value_the_database_refuses(code: str) -> dict[str, Any]:
    # The client row is inserted before its contacts' channels; PostgreSQL cannot store
    # a NUL character in text, so the failure comes after the client row was written.
    return client_body(code, contacts=[{"name": "Comptabilité", "channels": [
        {"type": "email", "value": "compta\u0000@martin.example"},
    ]}])


async def test_a_failure_in_the_database_leaves_nothing_half_written(dossier_api, db) -> None:
    code = new_code("BAD")

    response = await post_on_its_own_connection(dossier_api, body_with_a_value_the_database_refuses(code))

    assert response.status_code != 201, response.text
    await assert_nothing_written(dossier_api, db, code)


async def test_a_value_the_database_refuses_is_a_422_naming_the_field(dossier_api, db) -> None:
    code = new_code("BAD")

    response = await post_on_its_own_connection(dossier_api, body_with_a_value_the_database_refuses(code))

    assert response.status_code == 422, response.text
    [(field, _)] = errors_of(response)
    assert field == "contacts.0.channels.0.value"


# ---- duplicate and unknown codes ---------------------------------------------------------


async def test_f1_a_second_client_with_the_same_code_is_a_conflict(dossier_api, db) -> None:
    code = new_code()
    first = await dossier_api.post("/clients", json=client_body(code, name="Premier client"))
    assert first.status_code == 201, first.text

    second = await dossier_api.post(
        "/clients", json=client_body(code, name="Doublon", items=[invoice("F-9", "9999.00")])
    )

    assert second.status_code == 409, second.text
    [(field, reason)] = errors_of(second)
    assert field == "code"
    assert code in reason
    # The first client is untouched, and nothing of the second one was written.
    card = (await dossier_api.get(f"/clients/{code}")).json()
    assert card["client"]["name"] == "Premier client"
    assert [i["number"] for i in card["open_items"]] == ["F-1001"]
    assert Decimal(card["client"]["balance"]) == Decimal("1200.00")
    assert await db.fetchval(
        "SELECT count(*) FROM outbox WHERE event_type = 'client.created' AND event->'payload'->>'code' = $1",
        code,
    ) == 1
    assert await db.fetchval(
        "SELECT count(*) FROM outbox WHERE event_type = 'dossier.opened'"
        " AND event->'payload'->>'client_code' = $1",
        code,
    ) == 1


@pytest.mark.parametrize("path", ["", "/interventions", "/communications"])
async def test_unknown_client_code_is_not_found(dossier_api, path: str) -> None:
    code = new_code("NONE")

    response = await dossier_api.get(f"/clients/{code}{path}")

    assert response.status_code == 404, response.text
    [(field, reason)] = errors_of(response)
    assert field == "code"
    assert code in reason


# ---- interventions and the communication trace (F-10, F-23) ------------------------------


async def test_f10_client_with_nothing_due_yet_has_no_intervention_and_no_communication(dossier_api) -> None:
    code = new_code()
    response = await dossier_api.post(
        "/clients", json=client_body(code, items=[invoice("F-1", "500.00", due_in_days=60)])
    )
    assert response.status_code == 201, response.text
    assert response.json()["pending_interventions"] == []

    interventions = await dossier_api.get(f"/clients/{code}/interventions")
    communications = await dossier_api.get(f"/clients/{code}/communications")

    assert (interventions.status_code, interventions.json()) == (200, [])
    assert (communications.status_code, communications.json()) == (200, [])


async def test_f21_overdue_client_without_a_usable_email_keeps_its_first_step_to_do(dossier_api, smtp_inbox) -> None:
    """The first step of the standard scenario is an automatic email. The client's only
    email is invalid (F-21): nothing is sent, the trace says why (F-23), and the
    intervention stays To do on the card for the collector (F-10)."""
    code = new_code()
    invalid_email = f"old+{code.lower()}@martin.example"
    response = await dossier_api.post(
        "/clients",
        json=client_body(
            code,
            items=[invoice("F-1", "750.00", due_in_days=-20)],
            contacts=[{"name": "Comptabilité", "channels": [
                {"type": "email", "value": invalid_email, "state": "invalid"},
            ]}],
        ),
    )
    assert response.status_code == 201, response.text
    dossier_id = response.json()["active_dossier"]["id"]

    async def trace_recorded():
        trace = (await dossier_api.get(f"/clients/{code}/communications")).json()
        return trace if trace and trace[0]["status"] not in ("sending", "retrying") else None

    trace = await eventually(trace_recorded, timeout=90)
    assert len(trace) == 1
    assert trace[0]["channel"] == "email"
    assert trace[0]["status"] == "needs_attention"
    assert trace[0]["sent_at"] is None
    assert "email" in trace[0]["error"]
    assert not smtp_inbox.to(invalid_email)

    interventions = (await dossier_api.get(f"/clients/{code}/interventions")).json()
    assert len(interventions) == 1
    first = interventions[0]
    assert (first["action_type"], first["step_index"], first["origin"]) == ("email", 0, "scenario")
    assert first["status"] == "todo"
    assert first["dossier_id"] == dossier_id
    assert trace[0]["intervention_id"] == first["id"]

    card = (await dossier_api.get(f"/clients/{code}")).json()
    assert [i["id"] for i in card["pending_interventions"]] == [first["id"]]
