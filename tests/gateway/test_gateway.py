"""The transfer gateway on the real stack (F-29, F-31): agencies registry, signed and
idempotent agency API, isolation between agencies, the pull API, and signed webhooks
with retries and dead letters. Transfer events are written to the outbox as the transfer
workflow writes them; the platform's relay publishes them to the gateway's consumer."""

from __future__ import annotations

import json
import re
import time
from uuid import uuid4

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from relance_devstack.supervisor import Supervisor
from tests.conftest import ADMIN_TOKEN, eventually
from tests.gateway.test_gateway_support import (
    AgencyClient,
    WebhookReceiver,
    agency_events,
    new_agency_code,
    new_secret,
    register_agency,
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

    def signed(**kwargs):
        return agency.headers("POST", path, body, **{"idempotency_key": str(uuid4()), **kwargs})

    wrong_secret = await agency.http.post(path, content=body, headers=signed(secret=new_secret()))
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["errors"][0]["field"] == "X-Relance-Signature"

    altered = await agency.http.post(path, content=b'{"agency_reference":"R-2"}', headers=signed())
    assert altered.status_code == 401

    stale = await agency.http.post(path, content=body, headers=signed(timestamp=int(time.time()) - 301))
    assert stale.status_code == 401
    assert stale.json()["errors"][0]["field"] == "X-Relance-Timestamp"

    no_nonce = {k: v for k, v in signed().items() if k != "X-Relance-Nonce"}
    refused = await agency.http.post(path, content=body, headers=no_nonce)
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["field"] == "X-Relance-Nonce"

    unknown_key = await agency.http.post(path, content=body, headers={
        **signed(), "X-Agency-Key": "ak_unknown"})
    assert unknown_key.status_code == 401
    assert unknown_key.json()["errors"][0]["field"] == "X-Agency-Key"

    no_key = await agency.http.get(f"/agency/v1/placements/{placed.transfer_id}")
    assert no_key.status_code == 401

    # None of them changed anything: the placement is still unacknowledged, no event out.
    assert (await placement_visible(agency, placed.transfer_id))["acknowledged_at"] is None
    assert await agency_events(db, "agency.placement_acknowledged", placed.transfer_id) == []


async def test_f31_a_signature_covers_method_path_and_idempotency_key_so_a_refusal_cannot_be_replayed(db, agency):
    """Issue 10: a refusal signed for one transfer was accepted on another (the signature
    covered the timestamp and the body only)."""
    first = await placed_with(db, agency)
    second = await placed_with(db, agency)
    for placed in (first, second):
        await write_cancellation_request(db, placed, agency.code)

    async def both_requested():
        states = [await placement_visible(agency, p.transfer_id) for p in (first, second)]
        return all(s and s["status"] == "cancellation_requested" for s in states)

    await eventually(both_requested, timeout=30)
    body = json.dumps({"reason": "A payment plan is signed"}).encode()
    path = f"/agency/v1/placements/{first.transfer_id}/cancellation/refusal"
    captured = agency.headers("POST", path, body, idempotency_key=str(uuid4()))

    other_path = f"/agency/v1/placements/{second.transfer_id}/cancellation/refusal"
    elsewhere = await agency.http.post(other_path, content=body, headers=captured)
    assert elsewhere.status_code == 401, elsewhere.text
    assert elsewhere.json()["errors"][0]["field"] == "X-Relance-Signature"
    other_key = await agency.http.post(path, content=body, headers={**captured, "Idempotency-Key": "k2"})
    assert other_key.status_code == 401
    validation = f"/agency/v1/placements/{first.transfer_id}/cancellation/validation"
    other_operation = await agency.http.post(validation, content=body, headers=captured)
    assert other_operation.status_code == 401

    sent = await agency.http.post(path, content=body, headers=captured)
    assert sent.status_code == 200, sent.text
    # The very same signed request again, within the tolerance window: refused, not
    # replayed from the idempotency store (a new signature with the key would be).
    again = await agency.http.post(path, content=body, headers=captured)
    assert again.status_code == 401
    assert again.json()["errors"][0]["field"] == "X-Relance-Signature"
    assert "already received" in again.json()["errors"][0]["reason"]
    retried = await agency.http.post(path, content=body, headers=agency.headers(
        "POST", path, body, idempotency_key=captured["Idempotency-Key"]))
    assert retried.status_code == 200 and retried.headers["Idempotent-Replayed"] == "true"

    assert len(await agency_events(db, "agency.cancellation_refused", first.transfer_id)) == 1
    assert await agency_events(db, "agency.cancellation_refused", second.transfer_id) == []
    assert (await placement_visible(agency, second.transfer_id))["status"] == "cancellation_requested"


async def test_f31_a_get_is_signed_with_its_query_string_and_each_nonce_is_used_once(db, agency):
    await placed_with(db, agency)
    path = "/agency/v1/placements?status=placed"
    signed = agency.headers("GET", path, b"")
    assert (await agency.http.get(path, headers=signed)).status_code == 200
    assert (await agency.http.get(path, headers=signed)).status_code == 401  # seen already
    widened = await agency.http.get("/agency/v1/placements?status=cancelled",
                                    headers=agency.headers("GET", path, b""))
    assert widened.status_code == 401
    # Two identical reads in the same second are two requests: each has its own nonce.
    assert [(await agency.get(path)).status_code for _ in range(3)] == [200, 200, 200]


async def test_f31_the_replay_cache_is_pruned_past_the_tolerance_window(db):
    from relance_gateway.persistence import replay_cache

    code = new_agency_code()
    async with db.acquire() as conn:
        now = int(time.time())
        assert await replay_cache.remember(conn, code, "old", timestamp=now - 400, tolerance_seconds=300)
        assert await replay_cache.remember(conn, code, "fresh", timestamp=now, tolerance_seconds=300)
        assert not await replay_cache.remember(conn, code, "fresh", timestamp=now, tolerance_seconds=300)
        await replay_cache.prune(conn)
        kept = await conn.fetch("SELECT fingerprint FROM gateway_seen_signatures WHERE agency_code = $1",
                                code)
    assert [r["fingerprint"] for r in kept] == ["fresh"]


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
    # Issue 10: a payment in another currency than its item (EUR) is refused, not applied.
    dollars = await agency.post(f"{path}/payments", {**payment, "payment_id": "P4", "currency": "USD"})
    assert dollars.status_code == 422, dollars.text
    [error] = dollars.json()["errors"]
    assert error["field"] == "currency" and "INV-2 is in EUR, not USD" in error["reason"]
    assert await db.fetchval("SELECT count(*) FROM gateway_payments WHERE agency_code = $1"
                             " AND payment_id = 'P4'", agency.code) == 0
    assert len(await agency_events(db, "agency.payment_collected", placed.transfer_id)) == 1

    status = await agency.post(f"{path}/status", {"status": "amicable_phase", "comment": "First call"})
    assert status.status_code == 200
    [update] = await agency_events(db, "agency.status_updated", placed.transfer_id)
    assert update["payload"]["status"] == "amicable_phase"
    assert (await placement_visible(agency, placed.transfer_id))["agency_status"] == "amicable_phase"

    # F-33: the transfer history records each answer when it applies the event (there is
    # no transfer workflow behind this test's placement); the gateway records none itself,
    # or a transfer's actions would list every answer twice.
    audit = await db.fetch("SELECT actor, action FROM gateway.audit_log WHERE entity_id = $1 ORDER BY id",
                           str(placed.transfer_id))
    assert audit == []


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
            # F-31: Standard Webhooks, verified with the official library as an agency would.
            assert Webhook(agency.secret).verify(request["body"], headers)["type"] == "placement"
            assert headers["webhook-id"] == str(placed.event_id)  # the same on every retry
            assert re.fullmatch(r"v1,[A-Za-z0-9+/]+={0,2}", headers["webhook-signature"])
            assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
            assert not [h for h in headers if h.startswith("x-relance-") and "delivery" not in h]
            with pytest.raises(WebhookVerificationError):
                Webhook(new_secret()).verify(request["body"], headers)
            with pytest.raises(WebhookVerificationError):
                Webhook(agency.secret).verify(request["body"] + b" ", headers)
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


async def test_f31_during_a_rotation_a_webhook_carries_one_signature_per_active_secret(
    db, gateway_admin, gateway
):
    receiver = WebhookReceiver()
    try:
        agency = await register_agency(gateway_admin, gateway, webhook_url=receiver.url)
        rotated = await gateway_admin.post(f"/admin/agencies/{agency.code}/secrets")
        new = rotated.json()["signing_secret"]
        assert new.startswith("whsec_") and Webhook(new)  # the library reads the format
        await write_placement(db, agency.code)
        async def received():
            return receiver.requests

        [request] = await eventually(received, timeout=30)
        entries = request["headers"]["webhook-signature"].split(" ")
        assert len(entries) == 2 and all(e.startswith("v1,") for e in entries)
        # An agency that has switched to the new secret and one that has not both verify.
        for secret in (agency.secret, new):
            Webhook(secret).verify(request["body"], request["headers"])
    finally:
        receiver.close()


async def test_f31_a_webhook_failing_every_attempt_becomes_a_dead_letter_that_can_be_replayed(
    db, gateway_admin, gateway
):
    receiver = WebhookReceiver(always_fail=True, failure_body=b"Traceback: db password=hunter2")
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
        # Issue 10: the remote server's answer body never comes back through the admin API.
        assert letter["last_error"] == "HTTP 500 Internal Server Error"
        listed = (await gateway_admin.get("/admin/deliveries", params={"agency_code": agency.code})).text
        assert "hunter2" not in listed and "Traceback" not in listed
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


# ---- webhook URLs (issue 10) -----------------------------------------------------------


async def test_f31_webhook_urls_to_private_or_link_local_addresses_are_refused_at_registration(
    gateway_admin
):
    """Even on this platform, which allows http and loopback for its local receivers."""
    for url, said in [("https://169.254.169.254/latest/meta-data", "link-local"),
                      ("https://10.1.2.3/hooks", "private"), ("http://[fd00::5]/hooks", "private"),
                      ("ftp://agency.example/hooks", None)]:
        refused = await gateway_admin.post("/admin/agencies", json={
            "code": new_agency_code(), "name": "Internal", "webhook_url": url})
        assert refused.status_code == 422, (url, refused.text)
        [error] = refused.json()["errors"]
        assert error["field"] == "webhook_url"
        assert said is None or said in error["reason"]
    code = new_agency_code()
    assert (await gateway_admin.post("/admin/agencies", json={"code": code, "name": "Ok"})).status_code == 201
    patched = await gateway_admin.patch(f"/admin/agencies/{code}",
                                        json={"webhook_url": "https://192.168.1.20/hooks"})
    assert patched.status_code == 422 and patched.json()["errors"][0]["field"] == "webhook_url"
    assert (await gateway_admin.get(f"/admin/agencies/{code}")).json()["webhook_url"] is None


@pytest.fixture
def strict_settings(stack):
    """The gateway's settings as in production: WEBHOOK_ALLOW_INSECURE_URLS unset."""
    from relance_gateway.settings import Settings

    settings = Settings(database_url=stack.database_url, kafka_bootstrap_servers=stack.kafka_bootstrap_servers)
    assert settings.webhook_allow_insecure_urls is False
    return settings


async def test_f31_by_default_http_and_loopback_webhook_urls_are_refused_at_registration(
    stack, platform, strict_settings
):
    from relance.db import create_pool
    from relance_gateway.api.admins import TokenIntrospection
    from relance_gateway.api.app import create_app
    from relance_gateway.domain.secret_box import SecretBox
    from relance_gateway.persistence.migrations import SCHEMA

    # The gateway in process, on its own schema, asking the platform's dossier who the admin is.
    pool = await create_pool(stack.database_url, schema=SCHEMA, max_size=2)
    http = httpx.AsyncClient()
    introspection = TokenIntrospection(http, platform.running["dossier"].url, cache_seconds=30, timeout_seconds=5)
    app = create_app(strict_settings, pool, dispatcher=None, secret_box=SecretBox([]), introspection=introspection)
    async with http, httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway",
                                       headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as admin:
        for url, said in [("http://agency.example/hooks", "https"),
                          ("https://127.0.0.1:8400/webhooks", "loopback"),
                          ("https://localhost/webhooks", "loopback")]:
            refused = await admin.post("/admin/agencies", json={
                "code": new_agency_code(), "name": "Local", "webhook_url": url})
            assert refused.status_code == 422, (url, refused.text)
            assert refused.json()["errors"][0]["field"] == "webhook_url"
            assert said in refused.json()["errors"][0]["reason"]
        accepted = await admin.post("/admin/agencies", json={
            "code": new_agency_code(), "name": "Public", "webhook_url": "https://agency.example/hooks"})
        assert accepted.status_code == 201, accepted.text
    await pool.close()


async def _pending_delivery(db, url: str) -> dict:
    """An agency (plaintext secret, as stored before encryption) with one delivery that
    the platform's own dispatcher leaves alone (due in an hour)."""
    code, agency_id, message_id, delivery_id = new_agency_code(), uuid4(), uuid4(), uuid4()
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO gateway_agencies (id, code, name, webhook_url, api_key_sha256)"
                           " VALUES ($1, $2, 'Agency', $3, $4)", agency_id, code, url, uuid4().hex)
        await conn.execute("INSERT INTO gateway_agency_secrets (id, agency_id, secret) VALUES ($1, $2, $3)",
                           uuid4(), agency_id, new_secret())
        await conn.execute("INSERT INTO gateway_messages (id, agency_code, transfer_id, kind, body)"
                           " VALUES ($1, $2, $3, 'placement', $4)", message_id, code, uuid4(),
                           {"id": str(message_id), "type": "placement", "data": {}})
        await conn.execute("INSERT INTO gateway_deliveries (id, message_id, agency_code, url, attempts,"
                           " next_attempt_at) VALUES ($1, $2, $3, $4, 1, now() + interval '1 hour')",
                           delivery_id, message_id, code, url)
        row = await conn.fetchrow(
            "SELECT d.id, d.message_id, d.agency_code, d.url, d.attempts, m.kind, m.body,"
            " true AS pushable FROM gateway_deliveries d JOIN gateway_messages m ON m.id = d.message_id"
            " WHERE d.id = $1", delivery_id)
    return row


async def test_f31_at_send_time_a_url_resolving_to_an_internal_address_is_a_dead_letter_with_the_reason(
    db, strict_settings
):
    from relance_gateway.domain.secret_box import SecretBox
    from relance_gateway.messaging.webhooks import WebhookDispatcher

    resolved = {"hooks.agency.example": ["93.184.216.34", "10.0.0.7"]}

    async def dns(host, port):
        return resolved[host]

    receiver = WebhookReceiver()
    try:
        async with httpx.AsyncClient() as http:
            dispatcher = WebhookDispatcher(db, strict_settings, http, SecretBox([]), resolve=dns)
            # Registered when it resolved elsewhere (or before this check): refused now.
            rebound = await _pending_delivery(db, "https://hooks.agency.example/relance")
            # Registered while WEBHOOK_ALLOW_INSECURE_URLS was on, sent after it was turned off.
            local = await _pending_delivery(db, receiver.url)
            for row in (rebound, local):
                await dispatcher._attempt(row)
        dead = {r["id"]: r for r in await db.fetch(
            "SELECT id, status, attempts, last_error FROM gateway_deliveries WHERE id = ANY($1::uuid[])",
            [rebound["id"], local["id"]])}
        assert dead[rebound["id"]]["status"] == "dead"  # at once: no retry would help
        assert dead[rebound["id"]]["last_error"] == (
            "not sent: hooks.agency.example resolves to 10.0.0.7, a private address")
        assert dead[local["id"]]["status"] == "dead"
        assert "https" in dead[local["id"]]["last_error"]
        assert receiver.requests == []  # nothing was sent
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
    assert "import base64, hashlib, hmac" in description
    assert "X-Relance-Nonce" in description and "webhook-signature" in description
    assert "standardwebhooks" in description and "X-Relance-Event-Id" not in description
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
