"""The transfer gateway on the real stack (F-29, F-31): agencies registry, signed and
idempotent agency API, isolation between agencies, the pull API, and signed webhooks
with retries and dead letters. Transfer events are written to the outbox as the transfer
workflow writes them; the platform's relay publishes them to the gateway's consumer."""

from __future__ import annotations

import json
import time
from uuid import uuid4

import httpx
import pytest

from relance_devstack.supervisor import Supervisor
from tests.conftest import ADMIN_TOKEN, eventually
from tests.gateway.test_gateway_support import (
    AgencyClient,
    WebhookReceiver,
    agency_events,
    register_agency,
    sign,
    write_cancellation_request,
    write_placement,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
async def gateway(platform: Supervisor):
    async with httpx.AsyncClient(base_url=platform.running["transfer-gateway"].url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def gateway_admin(platform: Supervisor):
    async with httpx.AsyncClient(
        base_url=platform.running["transfer-gateway"].url, timeout=30,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ) as client:
        yield client


@pytest.fixture
async def agency(gateway_admin, gateway) -> AgencyClient:
    """A pull-only agency of its own for each test."""
    return await register_agency(gateway_admin, gateway)


async def placement_visible(agency: AgencyClient, transfer_id) -> dict | None:
    response = await agency.get(f"/agency/v1/placements/{transfer_id}")
    return response.json() if response.status_code == 200 else None


async def placed_with(db, agency: AgencyClient, items=("INV-1",)):
    placed = await write_placement(db, agency.code, items)
    await eventually(lambda: placement_visible(agency, placed.transfer_id), timeout=30)
    return placed


# ---- registry ------------------------------------------------------------------------------


async def test_f31_admins_register_agencies_and_secrets_are_shown_only_once(db, gateway, gateway_admin):
    code = f"R{uuid4().hex[:8].upper()}"
    created = await gateway_admin.post("/admin/agencies", json={
        "code": code, "name": "Recouvéo Nord", "webhook_url": "https://agency.example/hooks"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["credentials"]["api_key"].startswith("ak_")
    assert body["credentials"]["signing_secret"].startswith("whsec_")
    assert body["active_secrets"] == 1

    stored = await db.fetchval(
        "SELECT s.secret FROM gateway_agency_secrets s JOIN gateway_agencies a ON a.id = s.agency_id"
        " WHERE a.code = $1", code)
    assert stored.startswith("fernet:") and body["credentials"]["signing_secret"] not in stored

    listed = (await gateway_admin.get("/admin/agencies")).json()
    mine = next(a for a in listed if a["code"] == code)
    assert mine["webhook_url"] == "https://agency.example/hooks"
    assert "credentials" not in mine and body["credentials"]["signing_secret"] not in json.dumps(listed)

    patched = await gateway_admin.patch(f"/admin/agencies/{code}", json={"webhook_url": None})
    assert patched.status_code == 200 and patched.json()["webhook_url"] is None  # now pull-only

    duplicate = await gateway_admin.post("/admin/agencies", json={"code": code, "name": "again"})
    assert duplicate.status_code == 409
    assert duplicate.json()["errors"][0]["field"] == "code"

    bad = await gateway_admin.post("/admin/agencies", json={"code": "lower case", "name": "x"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "code"

    anonymous = await gateway.get("/admin/agencies")
    assert anonymous.status_code == 401

    audit = await db.fetch("SELECT actor, action FROM gateway.audit_log WHERE entity = 'agency'"
                           " AND entity_id = $1 ORDER BY id", code)
    assert [(a["actor"], a["action"]) for a in audit] == [
        ("user:admin", "agency.created"), ("user:admin", "agency.updated")]


# ---- inbound security ----------------------------------------------------------------------


async def test_f31_bad_signature_stale_timestamp_or_unknown_key_get_401_with_the_reason(db, agency):
    placed = await placed_with(db, agency)
    path = f"/agency/v1/placements/{placed.transfer_id}/acknowledgement"
    body = json.dumps({"agency_reference": "R-1"}).encode()

    wrong_secret = await agency.http.post(path, content=body, headers=agency.headers(
        body, secret="whsec_not_mine", idempotency_key=str(uuid4())))
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["errors"][0]["field"] == "X-Relance-Signature"

    tampered = agency.headers(body, idempotency_key=str(uuid4()))
    altered = await agency.http.post(path, content=b'{"agency_reference":"R-2"}', headers=tampered)
    assert altered.status_code == 401

    stale = await agency.http.post(path, content=body, headers=agency.headers(
        body, timestamp=int(time.time()) - 301, idempotency_key=str(uuid4())))
    assert stale.status_code == 401
    assert stale.json()["errors"][0]["field"] == "X-Relance-Timestamp"

    unknown_key = await agency.http.post(path, content=body, headers={
        **agency.headers(body, idempotency_key=str(uuid4())), "X-Agency-Key": "ak_unknown"})
    assert unknown_key.status_code == 401
    assert unknown_key.json()["errors"][0]["field"] == "X-Agency-Key"

    no_key = await agency.http.get(f"/agency/v1/placements/{placed.transfer_id}")
    assert no_key.status_code == 401

    # None of them changed anything: the placement is still unacknowledged, no event out.
    assert (await placement_visible(agency, placed.transfer_id))["acknowledged_at"] is None
    assert await agency_events(db, "agency.placement_acknowledged", placed.transfer_id) == []


async def test_f31_rotated_secret_both_active_secrets_verify_then_the_oldest_is_revoked(
    db, agency, gateway_admin
):
    placed = await placed_with(db, agency)
    first_secret = agency.secret
    rotated = await gateway_admin.post(f"/admin/agencies/{agency.code}/secrets")
    assert rotated.status_code == 201
    second_secret = rotated.json()["signing_secret"]
    assert (await gateway_admin.get(f"/admin/agencies/{agency.code}")).json()["active_secrets"] == 2

    path = f"/agency/v1/placements/{placed.transfer_id}"
    assert (await agency.get(path, secret=first_secret)).status_code == 200
    assert (await agency.get(path, secret=second_secret)).status_code == 200

    third = (await gateway_admin.post(f"/admin/agencies/{agency.code}/secrets")).json()["signing_secret"]
    assert (await agency.get(path, secret=first_secret)).status_code == 401
    assert (await agency.get(path, secret=second_secret)).status_code == 200
    assert (await agency.get(path, secret=third)).status_code == 200
    assert (await gateway_admin.get(f"/admin/agencies/{agency.code}")).json()["active_secrets"] == 2


async def test_f31_replay_returns_the_first_response_and_another_body_with_the_key_is_422(db, agency):
    placed = await placed_with(db, agency)
    path = f"/agency/v1/placements/{placed.transfer_id}/acknowledgement"
    key = str(uuid4())

    first = await agency.post(path, {"agency_reference": "RCV-42"}, idempotency_key=key)
    assert first.status_code == 200, first.text
    assert first.json()["event"] == "agency.placement_acknowledged"

    replay = await agency.post(path, {"agency_reference": "RCV-42"}, idempotency_key=key)
    assert replay.status_code == first.status_code
    assert replay.json() == first.json()  # verbatim, including event id and time
    assert replay.headers["Idempotent-Replayed"] == "true"

    other_body = await agency.post(path, {"agency_reference": "RCV-43"}, idempotency_key=key)
    assert other_body.status_code == 422
    assert other_body.json()["errors"][0]["field"] == "Idempotency-Key"

    missing_key = await agency.post(path, {"agency_reference": "RCV-42"}, idempotency_key=None)
    assert missing_key.status_code == 400
    assert missing_key.json()["errors"][0]["field"] == "Idempotency-Key"

    # Applied once: one event, carrying the client from the placement.
    events = await agency_events(db, "agency.placement_acknowledged", placed.transfer_id)
    assert len(events) == 1
    assert events[0]["client_id"] == str(placed.client_id)
    assert events[0]["payload"]["agency_reference"] == "RCV-42"
    assert events[0]["actor"] == f"agency:{agency.code}"

    # A second acknowledgement under a new key is refused: the state says why.
    again = await agency.post(path, {"agency_reference": "RCV-42"})
    assert again.status_code == 409
    assert "already acknowledged" in again.json()["errors"][0]["reason"]


async def test_f31_concurrent_requests_with_one_key_apply_once_and_answer_alike(db, agency):
    import asyncio

    placed = await placed_with(db, agency)
    path = f"/agency/v1/placements/{placed.transfer_id}/status"
    key = str(uuid4())
    answers = await asyncio.gather(*(
        agency.post(path, {"status": "amicable_phase"}, idempotency_key=key) for _ in range(5)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1
    assert len(await agency_events(db, "agency.status_updated", placed.transfer_id)) == 1


async def test_f31_a_deactivated_agency_is_refused(db, agency, gateway_admin):
    placed = await placed_with(db, agency)
    await gateway_admin.patch(f"/admin/agencies/{agency.code}", json={"active": False})
    refused = await agency.get(f"/agency/v1/placements/{placed.transfer_id}")
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["reason"] == "this agency is deactivated"
    await gateway_admin.patch(f"/admin/agencies/{agency.code}", json={"active": True})
    assert (await agency.get(f"/agency/v1/placements/{placed.transfer_id}")).status_code == 200


async def test_f31_an_agency_sees_only_its_own_placements(db, gateway_admin, gateway):
    owner = await register_agency(gateway_admin, gateway)
    other = await register_agency(gateway_admin, gateway)
    placed = await placed_with(db, owner)

    assert (await other.get(f"/agency/v1/placements/{placed.transfer_id}")).status_code == 404
    for path, payload in [
        ("acknowledgement", {"agency_reference": "X"}),
        ("cancellation/refusal", {"reason": "no"}),
        ("status", {"status": "amicable"}),
        ("payments", {"payment_id": "P1", "item_number": "INV-1", "amount": "10.00",
                      "collected_on": "2026-12-01"}),
    ]:
        response = await other.post(f"/agency/v1/placements/{placed.transfer_id}/{path}", payload)
        assert response.status_code == 404, path
        assert response.json()["errors"][0]["field"] == "transfer_id"
    listed = (await other.get("/agency/v1/placements")).json()["placements"]
    assert all(p["transfer_id"] != str(placed.transfer_id) for p in listed)
    assert (await other.get("/agency/v1/messages")).json()["messages"] == []
    own_list = (await owner.get("/agency/v1/placements")).json()["placements"]
    assert [p["transfer_id"] for p in own_list] == [str(placed.transfer_id)]


# ---- pull API and the agency's answers ------------------------------------------------------


async def test_f31_pull_api_lists_placements_and_cancellation_requests_until_acknowledged(db, agency):
    placed = await placed_with(db, agency, items=("INV-7", "INV-8"))
    messages = (await agency.get("/agency/v1/messages")).json()["messages"]
    assert [m["type"] for m in messages] == ["placement"]
    placement = messages[0]
    assert placement["id"] == str(placed.event_id)
    assert placement["data"]["transfer_id"] == str(placed.transfer_id)
    assert [i["number"] for i in placement["data"]["items"]] == ["INV-7", "INV-8"]
    assert placement["data"]["opening_comment"] == "Unreachable since September"

    acked = await agency.post(f"/agency/v1/messages/{placement['id']}/ack", {})
    assert acked.status_code == 200, acked.text
    assert (await agency.get("/agency/v1/messages")).json()["messages"] == []

    # F-29: the cancellation request reaches the agency through the same list.
    await write_cancellation_request(db, placed, agency.code)

    async def cancellation_listed():
        listed = (await agency.get("/agency/v1/messages")).json()["messages"]
        return [m for m in listed if m["type"] == "cancellation_request"]

    [request] = await eventually(cancellation_listed, timeout=30)
    assert request["data"]["comment"] == "The client paid us directly"
    state = (await agency.get(f"/agency/v1/placements/{placed.transfer_id}")).json()
    assert state["status"] == "cancellation_requested"

    validated = await agency.post(
        f"/agency/v1/placements/{placed.transfer_id}/cancellation/validation", {"comment": "ok"})
    assert validated.status_code == 200, validated.text
    assert validated.json()["status"] == "cancelled"
    [event] = await agency_events(db, "agency.cancellation_validated", placed.transfer_id)
    assert event["client_id"] == str(placed.client_id)
    assert event["payload"]["agency_code"] == agency.code

    # Nothing more is accepted on a cancelled transfer.
    late = await agency.post(f"/agency/v1/placements/{placed.transfer_id}/status", {"status": "x"})
    assert late.status_code == 409


async def test_f29_an_agency_refuses_a_cancellation_only_with_a_reason(db, agency):
    placed = await placed_with(db, agency)
    early = await agency.post(f"/agency/v1/placements/{placed.transfer_id}/cancellation/refusal",
                              {"reason": "too late"})
    assert early.status_code == 409  # no request pending yet
    await write_cancellation_request(db, placed, agency.code)

    async def requested():
        state = await placement_visible(agency, placed.transfer_id)
        return state["status"] == "cancellation_requested"

    await eventually(requested, timeout=30)
    path = f"/agency/v1/placements/{placed.transfer_id}/cancellation/refusal"
    no_reason = await agency.post(path, {})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    blank = await agency.post(path, {"reason": ""})
    assert blank.status_code == 422

    refused = await agency.post(path, {"reason": "A payment plan is signed"})
    assert refused.status_code == 200, refused.text
    [event] = await agency_events(db, "agency.cancellation_refused", placed.transfer_id)
    assert event["payload"]["reason"] == "A payment plan is signed"
    state = await placement_visible(agency, placed.transfer_id)
    assert state["status"] == "placed" and state["refusal_reason"] == "A payment plan is signed"


async def test_f31_payments_and_status_updates_become_agency_events(db, agency):
    placed = await placed_with(db, agency, items=("INV-1", "INV-2"))
    path = f"/agency/v1/placements/{placed.transfer_id}"
    payment = {"payment_id": "PAY-778", "item_number": "INV-2", "amount": "300.50",
               "currency": "EUR", "collected_on": "2026-12-02"}
    paid = await agency.post(f"{path}/payments", payment)
    assert paid.status_code == 200, paid.text
    [event] = await agency_events(db, "agency.payment_collected", placed.transfer_id)
    assert event["payload"]["payment_id"] == "PAY-778"
    assert event["payload"]["item_number"] == "INV-2"
    assert event["payload"]["amount"] == "300.50"
    assert event["payload"]["collected_on"] == "2026-12-02"
    assert event["client_id"] == str(placed.client_id)

    twice = await agency.post(f"{path}/payments", payment)  # same payment, new key
    assert twice.status_code == 409 and twice.json()["errors"][0]["field"] == "payment_id"
    unknown_item = await agency.post(f"{path}/payments", {**payment, "payment_id": "P2",
                                                            "item_number": "INV-9"})
    assert unknown_item.status_code == 422 and unknown_item.json()["errors"][0]["field"] == "item_number"
    negative = await agency.post(f"{path}/payments", {**payment, "payment_id": "P3", "amount": "-1"})
    assert negative.status_code == 422 and negative.json()["errors"][0]["field"] == "amount"
    assert len(await agency_events(db, "agency.payment_collected", placed.transfer_id)) == 1

    status = await agency.post(f"{path}/status", {"status": "amicable_phase", "comment": "First call"})
    assert status.status_code == 200
    [update] = await agency_events(db, "agency.status_updated", placed.transfer_id)
    assert update["payload"]["status"] == "amicable_phase"
    assert (await placement_visible(agency, placed.transfer_id))["agency_status"] == "amicable_phase"

    audit = await db.fetch("SELECT actor, action FROM gateway.audit_log WHERE entity_id = $1 ORDER BY id",
                           str(placed.transfer_id))
    assert [(a["actor"], a["action"]) for a in audit] == [
        (f"agency:{agency.code}", "transfer.agency_payment_collected"),
        (f"agency:{agency.code}", "transfer.agency_status_updated"),
    ]


# ---- outbound webhooks ----------------------------------------------------------------------


async def deliveries_of(gateway_admin, agency_code: str) -> list[dict]:
    response = await gateway_admin.get("/admin/deliveries", params={"agency_code": agency_code})
    assert response.status_code == 200
    return response.json()


async def test_f31_webhooks_are_signed_and_retried_until_the_agency_answers_2xx(
    db, gateway_admin, gateway
):
    receiver = WebhookReceiver(fail_first=2)
    try:
        agency = await register_agency(gateway_admin, gateway, webhook_url=receiver.url)
        placed = await write_placement(db, agency.code)

        async def delivered():
            rows = await deliveries_of(gateway_admin, agency.code)
            return rows if rows and rows[0]["status"] == "delivered" else None

        [delivery] = await eventually(delivered, timeout=30)
        assert delivery["attempts"] == 3 and delivery["last_status_code"] == 200
        assert [r["status"] for r in receiver.requests] == [500, 500, 200]

        for request in receiver.requests:
            headers = request["headers"]
            assert headers["x-relance-event-id"] == str(placed.event_id)
            assert headers["x-relance-event-type"] == "placement"
            expected = sign(agency.secret, headers["x-relance-timestamp"], request["body"])
            assert expected in headers["x-relance-signature"].split()
            assert abs(int(headers["x-relance-timestamp"]) - time.time()) < 60
        body = json.loads(receiver.requests[-1]["body"])
        assert body["type"] == "placement"
        assert body["data"]["transfer_id"] == str(placed.transfer_id)
        # Delivered by webhook: not listed again by the pull API.
        assert (await agency.get("/agency/v1/messages")).json()["messages"] == []
        metrics = (await gateway.get("/metrics")).text
        assert 'relance_gateway_webhook_attempts_total{outcome="delivered"}' in metrics
        assert 'relance_gateway_webhook_attempts_total{outcome="failed"}' in metrics
    finally:
        receiver.close()


async def test_f31_a_webhook_failing_every_attempt_becomes_a_dead_letter_that_can_be_replayed(
    db, gateway_admin, gateway
):
    receiver = WebhookReceiver(always_fail=True)
    try:
        agency = await register_agency(gateway_admin, gateway, webhook_url=receiver.url)
        placed = await write_placement(db, agency.code)

        async def dead():
            response = await gateway_admin.get("/admin/dead-letters", params={"agency_code": agency.code})
            return response.json()

        [letter] = await eventually(dead, timeout=40)
        assert letter["status"] == "dead"
        assert letter["attempts"] == 4  # WEBHOOK_MAX_ATTEMPTS of the test platform
        assert letter["last_status_code"] == 500
        assert letter["transfer_id"] == str(placed.transfer_id)
        assert len(receiver.requests) == 4
        metrics = (await gateway.get("/metrics")).text
        assert "relance_gateway_dead_letters_total" in metrics

        # Still available to pull, since the agency never took it.
        assert len((await agency.get("/agency/v1/messages")).json()["messages"]) == 1

        not_dead = await gateway_admin.post(f"/admin/dead-letters/{uuid4()}/replay")
        assert not_dead.status_code == 404

        # The agency fixed its endpoint by moving it: the replay goes to the new URL.
        moved = WebhookReceiver()
        try:
            patched = await gateway_admin.patch(f"/admin/agencies/{agency.code}",
                                                json={"webhook_url": moved.url})
            assert patched.status_code == 200
            replayed = await gateway_admin.post(f"/admin/dead-letters/{letter['id']}/replay")
            assert replayed.status_code == 200 and replayed.json()["status"] == "pending"

            async def delivered():
                rows = await deliveries_of(gateway_admin, agency.code)
                return rows[0] if rows[0]["status"] == "delivered" else None

            delivery = await eventually(delivered, timeout=30)
            assert delivery["url"] == moved.url and delivery["attempts"] == 1
            assert [r["status"] for r in moved.requests] == [200]
            assert len(receiver.requests) == 4
            assert (await agency.get("/agency/v1/messages")).json()["messages"] == []
            again = await gateway_admin.post(f"/admin/dead-letters/{letter['id']}/replay")
            assert again.status_code == 409
        finally:
            moved.close()
    finally:
        receiver.close()


async def test_f31_a_placement_for_an_agency_registered_later_waits_in_its_pull_list(
    db, gateway_admin, gateway
):
    code = f"L{uuid4().hex[:8].upper()}"
    placed = await write_placement(db, code)

    async def stored():
        response = await gateway_admin.get("/admin/placements", params={"agency_code": code})
        return response.json()

    [placement] = await eventually(stored, timeout=30)
    assert placement["transfer_id"] == str(placed.transfer_id) and placement["status"] == "placed"
    created = await gateway_admin.post("/admin/agencies", json={"code": code, "name": "Late"})
    credentials = created.json()["credentials"]
    late = AgencyClient(gateway, code, credentials["api_key"], credentials["signing_secret"])
    [message] = (await late.get("/agency/v1/messages")).json()["messages"]
    assert message["data"]["transfer_id"] == str(placed.transfer_id)


async def test_f31_openapi_documents_the_signature_recipe_and_examples(gateway):
    spec = (await gateway.get("/openapi.json")).json()
    description = spec["info"]["description"]
    assert "HMAC-SHA256" in description and "Idempotency-Key" in description
    assert "import hashlib, hmac" in description
    ack = spec["paths"]["/agency/v1/placements/{transfer_id}/acknowledgement"]["post"]
    assert {"401", "404", "422"} <= set(ack["responses"])
    assert spec["components"]["schemas"]["PaymentCollected"]["examples"]


async def test_f31_a_transfer_event_delivered_twice_by_kafka_is_applied_once(
    stack, db, gateway_admin, gateway
):
    """The consumer deduplicates on the event id in the transaction of its effect."""
    from datetime import UTC, date, datetime

    from relance.events import TransferPlaced
    from relance.kafka import new_producer
    from relance.topics import TRANSFER_EVENTS

    receiver = WebhookReceiver()
    producer = new_producer(stack.kafka_bootstrap_servers)
    await producer.start()
    try:
        agency = await register_agency(gateway_admin, gateway, webhook_url=receiver.url)
        client_id = uuid4()

        def placement(transfer_id):
            return TransferPlaced(
                transfer_id=transfer_id, client_id=client_id, client_code="C-TWICE",
                client_name="Twice", agency_code=agency.code, items=[], opening_comment="twice",
                next_follow_up_date=date(2026, 12, 1), placed_at=datetime.now(UTC),
            ).envelope(aggregate_id=transfer_id, client_id=client_id)

        twice, barrier = placement(uuid4()), placement(uuid4())
        # Same key, same partition: once the barrier is handled, both copies were.
        for envelope in (twice, twice, barrier):
            await producer.send_and_wait(TRANSFER_EVENTS, envelope.model_dump_json().encode(),
                                         key=str(client_id).encode())
        await eventually(lambda: placement_visible(agency, barrier.aggregate_id), timeout=30)

        messages = await db.fetch("SELECT id FROM gateway_messages WHERE transfer_id = $1",
                                  twice.payload_as(TransferPlaced).transfer_id)
        assert [m["id"] for m in messages] == [twice.event_id]
        deliveries = [d for d in await deliveries_of(gateway_admin, agency.code)
                      if d["message_id"] == str(twice.event_id)]
        assert len(deliveries) == 1
    finally:
        await producer.stop()
        receiver.close()
