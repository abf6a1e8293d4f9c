"""Transfers to collection agencies on the real platform (F-27 … F-30, F-33, F-34):
created through the dossier API, started by the signal bridge from the TransferCreated
event, cancelled through the API (a Temporal Update on the transfer workflow), and moved by
the agency's answers written to the outbox as the transfer gateway writes them.

The platform's worker keeps the 24-hour window. Tests that need the window to end start
the transfer's workflow on a worker of their own with a window of a few seconds, then
create the transfer with the dossier service's own function: the bridge then finds the
workflow already running (same business-key id) and leaves it alone. Agency answers are
written to the outbox as the transfer gateway writes them."""

import asyncio
import json
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import httpx
import pytest
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from relance import search_attributes as sa
from relance.contracts.transfer import TransferState, TransferStatus, TransferWorkflowInput
from relance.db import create_pool
from relance.events import (
    AgencyCancellationRefused,
    AgencyCancellationValidated,
    AgencyPaymentCollected,
    AgencyPlacementAcknowledged,
    AgencyStatusUpdated,
)
from relance.outbox import write_events
from relance.workflow_ids import transfer_workflow_id
from relance_devstack.embedded import free_port
from relance_devstack.supervisor import SERVICES, Supervisor
from relance_dossier.domain.transfers import RegisteredAgency
from relance_dossier.persistence import transfers as transfer_store
from relance_workflow.settings import Settings
from relance_workflow.worker import build_worker
from relance_workflow.workflows.transfer import TransferWorkflow
from tests.conftest import ADMIN_TOKEN, eventually
from tests.dossier.test_contacts import collector_api, read_only_api
from tests.dossier.test_dossier_api import client_body, errors_of, import_many_invoices, invoice, new_code
from tests.stack import ALL_OUTBOXES, SEARCH_PATH

# An agency the platform's transfer gateway does not know: nothing answers for it but these
# tests (the gateway's own tests drive the agency simulator end to end).
AGENCY = f"TESTAG-{uuid4().hex[:6].upper()}"
FOLLOW_UP = str(date.today() + timedelta(days=14))


@pytest.fixture(scope="module", autouse=True)
async def registered_agency(db):
    """The agency is in the gateway's registry, pull-only (no webhook), so transfers to it
    are accepted and nothing but these tests answers for it."""
    await db.execute(
        "INSERT INTO gateway_agencies (id, code, name, webhook_url, api_key_sha256)"
        " VALUES ($1, $2, $3, NULL, $4) ON CONFLICT (code) DO NOTHING",
        uuid4(), AGENCY, f"Test agency {AGENCY}", uuid4().hex + uuid4().hex,
    )


async def test_f31_a_transfer_to_an_unknown_or_inactive_agency_is_refused(dossier_api, db) -> None:
    client = await new_client(dossier_api)
    code, item = client["client"]["code"], client["open_items"][0]["id"]
    unknown = await dossier_api.post(f"/clients/{code}/transfers",
                                     json=transfer_body([item], agency_code="NOBODY"))
    assert unknown.status_code == 422, unknown.text
    assert [e["field"] for e in unknown.json()["errors"]] == ["agency_code"]
    inactive = f"OFF-{uuid4().hex[:6].upper()}"
    await db.execute(
        "INSERT INTO gateway_agencies (id, code, name, active, api_key_sha256)"
        " VALUES ($1, $2, 'Closed agency', false, $3)", uuid4(), inactive, uuid4().hex,
    )
    refused = await dossier_api.post(f"/clients/{code}/transfers",
                                     json=transfer_body([item], agency_code=inactive))
    assert refused.status_code == 422 and "not active" in refused.text
    card = (await dossier_api.get(f"/clients/{code}")).json()
    assert card["transfer_dossiers"] == [] and len(card["open_items"]) == 2  # nothing moved


@pytest.fixture(scope="module")
async def dossier_without_gateway(platform, tmp_path_factory):
    """A second dossier service on the same database whose GATEWAY_API_URL is a port
    nothing listens on: the transfer gateway cannot be reached from it."""
    lone = Supervisor(platform.env, tmp_path_factory.mktemp("lone-dossier"),
                      ports={"dossier": free_port()},
                      extra_env={"dossier": {"GATEWAY_API_URL": f"http://127.0.0.1:{free_port()}",
                                             "GATEWAY_API_TIMEOUT_SECONDS": "2"}})
    service = lone.start(next(s for s in SERVICES if s.name == "dossier"))
    try:
        lone.wait_healthy(service, timeout=60)
        async with httpx.AsyncClient(base_url=service.url, timeout=30,
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as api:
            yield api
    finally:
        lone.stop_all()


async def test_f27_f31_when_the_gateway_cannot_be_reached_the_transfer_is_503_and_nothing_is_written(
    dossier_api, db, dossier_without_gateway
) -> None:
    client = await new_client(dossier_api)
    code, client_id = client["client"]["code"], client["client"]["id"]
    items = [i["id"] for i in client["open_items"]]
    response = await dossier_without_gateway.post(f"/clients/{code}/transfers", json=transfer_body(items))
    assert response.status_code == 503, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["agency_code"]
    assert "gateway" in response.text
    card = (await dossier_api.get(f"/clients/{code}")).json()
    assert card["transfer_dossiers"] == [] and len(card["open_items"]) == 2  # nothing moved
    assert await db.fetchval("SELECT count(*) FROM dossier.transfers WHERE client_id = $1",
                             UUID(client_id)) == 0
    assert await db.fetchval(
        f"SELECT count(*) FROM {ALL_OUTBOXES} WHERE event->>'client_id' = $1"
        " AND event_type IN ('transfer.created', 'item.moved')", client_id) == 0
    assert await db.fetchval("SELECT count(*) FROM dossier.audit_log WHERE client_id = $1"
                             " AND entity = 'transfer'", UUID(client_id)) == 0
    # The same request through the platform's dossier, which reaches the gateway, works.
    created = await dossier_api.post(f"/clients/{code}/transfers", json=transfer_body(items))
    assert created.status_code == 201, created.text


async def new_client(dossier_api, *amounts: str) -> dict:
    code = new_code("TR")
    items = [invoice(f"F-{n + 1}", a, due_in_days=-45) for n, a in enumerate(amounts or ("900.00", "300.00"))]
    response = await dossier_api.post("/clients", json=client_body(code, items=items))
    assert response.status_code == 201, response.text
    return response.json()


def transfer_body(item_ids: list[str], **overrides) -> dict:
    return {"item_ids": item_ids, "agency_code": AGENCY, "next_follow_up_date": FOLLOW_UP,
            "opening_comment": "Three reminders unanswered", **overrides}


async def events(db, transfer_id, event_type: str) -> list[dict]:
    rows = await db.fetch(
        f"SELECT event FROM {ALL_OUTBOXES} WHERE event_type = $1 AND event->>'aggregate_id' = $2"
        " ORDER BY event->>'occurred_at', id",
        event_type, str(transfer_id),
    )
    return [r["event"] for r in rows]


async def holders(db, item_ids) -> set[UUID]:
    return set(await db.fetchval(
        "SELECT array_agg(DISTINCT dossier_id) FROM items WHERE id = ANY($1::uuid[])",
        [UUID(str(i)) for i in item_ids]))


async def agency_says(db, *payloads) -> None:
    """What the transfer gateway writes when an agency calls it: agency.* events."""
    async with db.acquire() as conn, conn.transaction():
        await write_events(conn, [
            p.envelope(aggregate_id=p.transfer_id, client_id=p.client_id, actor=f"agency:{AGENCY}")
            for p in payloads
        ])


# ---- F-27 create, F-28 immediate cancel through the platform ------------------------------


async def _status_once_running(handle) -> TransferStatus | None:
    try:
        return await handle.query(TransferWorkflow.status)
    except (RPCError, WorkflowQueryFailedError):  # not started yet, or its first task not done
        return None


async def test_f27_f28_create_then_cancel_within_the_window_returns_items_and_tells_the_agency_nothing(
    dossier_api, db, stack
):
    card = await new_client(dossier_api, "900.00", "300.00", "50.00")
    code, active_id = card["client"]["code"], card["active_dossier"]["id"]
    chosen = [i["id"] for i in card["open_items"][:2]]

    response = await dossier_api.post(f"/clients/{code}/transfers", json=transfer_body(chosen))
    assert response.status_code == 201, response.text
    transfer = response.json()
    transfer_id = transfer["id"]
    assert (transfer["state"], transfer["agency_code"], transfer["cancellation_pending"]) == (
        "in_window", AGENCY, False)
    assert transfer["opening_comment"] == "Three reminders unanswered"  # F-27: in the detail
    assert transfer["next_follow_up_date"] == FOLLOW_UP
    assert sorted(i["id"] for i in transfer["items"]) == sorted(chosen)
    assert all(i["in_transfer"] for i in transfer["items"])
    assert [(a["action"], a["comment"]) for a in transfer["actions"]] == [
        ("create", "Three reminders unanswered")]

    # The card: the items moved to a new transfer dossier; the third stayed active.
    after = (await dossier_api.get(f"/clients/{code}")).json()
    [dossier] = after["transfer_dossiers"]
    assert (dossier["id"], dossier["agency_code"], dossier["state"]) == (transfer_id, AGENCY, "open")
    held = {i["id"]: i["dossier_id"] for i in after["open_items"]}
    assert {held[i] for i in chosen} == {transfer_id}
    assert held[card["open_items"][2]["id"]] == active_id
    [created] = await events(db, transfer_id, "transfer.created")
    assert sorted(created["payload"]["item_ids"]) == sorted(chosen)

    # F-28: the 24-hour window's end is fixed with the transfer, in its detail and its event.
    window_end = datetime.fromisoformat(transfer["created_at"]) + timedelta(hours=24)
    assert datetime.fromisoformat(transfer["window_ends_at"]) == window_end
    assert datetime.fromisoformat(created["payload"]["window_ends_at"]) == window_end
    # The bridge started the workflow from the event with its search attributes set, and
    # the workflow had nothing to record before its timer: no activity, no upsert.
    temporal = await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)
    handle = temporal.get_workflow_handle_for(TransferWorkflow.run, transfer_workflow_id(transfer_id))
    status = await eventually(lambda: _status_once_running(handle))
    assert (status.state, status.window_ends_at) == (TransferState.IN_WINDOW, window_end)
    attributes = (await handle.describe()).typed_search_attributes
    assert (attributes[sa.CLIENT_CODE], attributes[sa.AGENCY], attributes[sa.TRANSFER_STATE],
            attributes[sa.AGENCY_ANSWER_OVERDUE]) == (code, AGENCY, "in_window", False)
    history = await handle.fetch_history()
    assert [e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
            or e.HasField("upsert_workflow_search_attributes_event_attributes")] == []
    assert any(e.HasField("timer_started_event_attributes") for e in history.events)

    response = await dossier_api.post(f"/transfers/{transfer_id}/cancel",
                                      json={"comment": "Client paid by transfer yesterday"})
    assert response.status_code == 200, response.text
    assert response.json() == {"mode": "immediate", "state": "closed"}

    detail = (await dossier_api.get(f"/transfers/{transfer_id}")).json()
    assert (detail["state"], detail["cancellation_mode"], detail["closing_comment"]) == (
        "closed", "immediate", "Client paid by transfer yesterday")
    assert detail["closed_at"] is not None
    assert not any(i["in_transfer"] for i in detail["items"])
    assert [a["action"] for a in detail["actions"]] == ["create", "cancel_immediate"]
    assert detail["actions"][1]["actor"] == "user:admin"
    assert await holders(db, chosen) == {UUID(active_id)}
    card = (await dossier_api.get(f"/clients/{code}")).json()
    assert card["transfer_dossiers"][0]["state"] == "closed"
    # F-28: the agency never receives anything.
    assert await events(db, transfer_id, "transfer.placed") == []
    assert await events(db, transfer_id, "transfer.cancellation_requested") == []
    [cancelled] = await events(db, transfer_id, "transfer.cancelled")
    assert cancelled["payload"]["mode"] == "immediate"

    again = await dossier_api.post(f"/transfers/{transfer_id}/cancel", json={"comment": "again"})
    assert (again.status_code, errors_of(again)[0][0]) == (409, "state")
    listed = (await dossier_api.get(f"/clients/{code}/transfers")).json()
    assert [(t["id"], t["state"]) for t in listed] == [(transfer_id, "closed")]


async def test_f27_items_must_be_open_items_of_the_active_dossier_and_nothing_is_half_written(
    dossier_api, db
):
    card = await new_client(dossier_api)
    other = await new_client(dossier_api)
    code = card["client"]["code"]
    mine = [i["id"] for i in card["open_items"]]
    foreign = other["open_items"][0]["id"]

    response = await dossier_api.post(f"/clients/{code}/transfers", json=transfer_body([mine[0], foreign]))
    assert response.status_code == 422
    [(field, reason)] = errors_of(response)
    assert field == "item_ids.1" and foreign in reason

    first = await dossier_api.post(f"/clients/{code}/transfers", json=transfer_body([mine[0]]))
    assert first.status_code == 201, first.text
    twice = await dossier_api.post(f"/clients/{code}/transfers", json=transfer_body([mine[1], mine[0]]))
    assert twice.status_code == 422
    [(field, reason)] = errors_of(twice)
    assert field == "item_ids.1" and "active dossier" in reason
    # Nothing half-written: the second item is still in the active dossier, one transfer.
    assert await holders(db, [mine[1]]) == {UUID(card["active_dossier"]["id"])}
    assert len((await dossier_api.get(f"/clients/{code}/transfers")).json()) == 1

    for body, expected_field in [
        (transfer_body([mine[1]], opening_comment="   "), "opening_comment"),
        (transfer_body([mine[1]], next_follow_up_date=str(date.today() - timedelta(days=1))),
         "next_follow_up_date"),
        (transfer_body([]), "item_ids"),
        (transfer_body([mine[1]], agency_code="bad code!"), "agency_code"),
    ]:
        refused = await dossier_api.post(f"/clients/{code}/transfers", json=body)
        assert refused.status_code == 422, refused.text
        assert errors_of(refused)[0][0] == expected_field

    blank = await dossier_api.post(f"/transfers/{first.json()['id']}/cancel", json={"comment": " "})
    assert (blank.status_code, errors_of(blank)[0][0]) == (422, "comment")
    missing = await dossier_api.get(f"/transfers/{uuid4()}")
    assert (missing.status_code, errors_of(missing)[0][0]) == (404, "transfer_id")


async def test_f33_collectors_see_only_their_clients_transfers_and_readers_cannot_cancel(
    dossier_api, platform, db
):
    card = await new_client(dossier_api)
    code = card["client"]["code"]
    created = await dossier_api.post(f"/clients/{code}/transfers",
                                     json=transfer_body([card["open_items"][0]["id"]]))
    transfer_id = created.json()["id"]
    async with await collector_api(platform, db) as stranger:
        assert (await stranger.get(f"/transfers/{transfer_id}")).status_code == 404
        assert (await stranger.post(f"/transfers/{transfer_id}/cancel", json={"comment": "x"})).status_code == 404
        assert (await stranger.get(f"/clients/{code}/transfers")).status_code == 404
    async with await read_only_api(platform, db) as reader:
        assert (await reader.get(f"/transfers/{transfer_id}")).status_code == 200
        assert (await reader.post(f"/transfers/{transfer_id}/cancel", json={"comment": "x"})).status_code == 403
    async with await collector_api(platform, db, code) as owner:
        response = await owner.post(f"/transfers/{transfer_id}/cancel", json={"comment": "Mine to cancel"})
    assert response.json()["mode"] == "immediate"
    detail = (await dossier_api.get(f"/transfers/{transfer_id}")).json()
    assert detail["actions"][-1]["actor"].startswith("user:claire-")


# ---- after the window: a short-window worker of the test's own -----------------------------


@pytest.fixture(scope="module")
async def short_window(stack, platform):
    """A workflow worker on its own task queue, and a way to create transfers whose
    workflow runs on it with a window of a few seconds; their activities run in the
    platform's dossier service, on its task queue, as in production."""
    client = await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)
    pool = await create_pool(stack.database_url, schema=SEARCH_PATH, max_size=8)
    settings = Settings(temporal_task_queue=f"transfers-short-{uuid4().hex[:6]}")
    async with build_worker(client, settings):

        async def create(card: dict, item_ids: list[str], window: float = 2.0,
                         agency: str = AGENCY) -> tuple[str, datetime]:
            transfer_id, created_at = uuid4(), datetime.now(UTC)
            async with pool.acquire() as conn:
                client_row = await conn.fetchrow(
                    "SELECT * FROM clients WHERE code = $1", card["client"]["code"])
            await client.start_workflow(
                TransferWorkflow.run,
                TransferWorkflowInput(
                    transfer_id=transfer_id, client_id=client_row["id"],
                    client_code=client_row["code"], agency_code=agency, created_at=created_at,
                    window_seconds=window, dossier_task_queue=settings.temporal_dossier_task_queue),
                id=transfer_workflow_id(transfer_id), task_queue=settings.temporal_task_queue,
            )
            async with pool.acquire() as conn:
                await transfer_store.create_transfer(
                    conn, client=client_row, item_ids=[UUID(i) for i in item_ids],
                    agency_code=agency, agency=RegisteredAgency(agency, f"Test agency {agency}", True),
                    next_follow_up_date=date.today() + timedelta(days=14),
                    opening_comment="Three reminders unanswered", actor="user:admin",
                    window=timedelta(seconds=window), transfer_id=transfer_id)
            return str(transfer_id), created_at + timedelta(seconds=window)

        yield create
    await pool.close()


async def test_f29_after_the_window_cancel_is_a_request_and_agency_validation_returns_the_items(
    dossier_api, db, short_window
):
    card = await new_client(dossier_api)
    code, client_id = card["client"]["code"], UUID(card["client"]["id"])
    item_ids = [i["id"] for i in card["open_items"]]
    transfer_id, _ = await short_window(card, item_ids)
    [placed] = await eventually(lambda: events(db, transfer_id, "transfer.placed"))
    assert sorted(i["item_id"] for i in placed["payload"]["items"]) == sorted(item_ids)

    await agency_says(db, AgencyPlacementAcknowledged(
        transfer_id=UUID(transfer_id), client_id=client_id, agency_code=AGENCY, agency_reference="RV-77"))
    acknowledged = await eventually(lambda: _detail_in_state(dossier_api, transfer_id, "placed_acknowledged"))
    assert acknowledged["agency_reference"] == "RV-77"

    response = await dossier_api.post(f"/transfers/{transfer_id}/cancel",
                                      json={"comment": "Client settled with us directly"})
    assert response.status_code == 200, response.text
    assert response.json() == {"mode": "request", "state": "cancellation_pending"}
    detail = (await dossier_api.get(f"/transfers/{transfer_id}")).json()
    assert detail["cancellation_pending"] is True  # shown struck through in red (F-29)
    assert detail["cancellation_comment"] == "Client settled with us directly"
    assert all(i["in_transfer"] for i in detail["items"])  # the items stay
    assert (await dossier_api.get(f"/clients/{code}")).json()["transfer_dossiers"][0]["state"] == \
        "cancellation_pending"
    [requested] = await events(db, transfer_id, "transfer.cancellation_requested")
    assert requested["payload"]["requested_by"] == "user:admin"

    pending = await dossier_api.post(f"/transfers/{transfer_id}/cancel", json={"comment": "again"})
    assert (pending.status_code, errors_of(pending)[0][0]) == (409, "state")

    validated = AgencyCancellationValidated(
        transfer_id=UUID(transfer_id), client_id=client_id, agency_code=AGENCY, comment="Agreed")
    await agency_says(db, validated)
    await agency_says(db, validated)  # the gateway may write the same answer twice
    closed = await eventually(lambda: _detail_in_state(dossier_api, transfer_id, "closed"))
    assert (closed["cancellation_mode"], closed["closing_comment"]) == ("agency_validated", "Agreed")
    assert not any(i["in_transfer"] for i in closed["items"])
    assert await holders(db, item_ids) == {UUID(card["active_dossier"]["id"])}
    assert [c["payload"]["mode"] for c in await events(db, transfer_id, "transfer.cancelled")] == [
        "agency_validated"]
    assert closed["actions"][-1]["actor"] == f"agency:{AGENCY}"


async def test_f29_agency_refusal_clears_the_flag_and_records_the_reason(dossier_api, db, short_window):
    card = await new_client(dossier_api)
    client_id = UUID(card["client"]["id"])
    item_ids = [i["id"] for i in card["open_items"]]
    transfer_id, _ = await short_window(card, item_ids)
    await eventually(lambda: events(db, transfer_id, "transfer.placed"))
    response = await dossier_api.post(f"/transfers/{transfer_id}/cancel", json={"comment": "Stop please"})
    assert response.json()["mode"] == "request"

    await agency_says(db, AgencyCancellationRefused(
        transfer_id=UUID(transfer_id), client_id=client_id, agency_code=AGENCY,
        reason="Payment plan already signed"))
    detail = await eventually(lambda: _detail_in_state(dossier_api, transfer_id, "placed"))
    assert (detail["cancellation_pending"], detail["refusal_reason"]) == (False, "Payment plan already signed")
    assert all(i["in_transfer"] for i in detail["items"])
    assert await events(db, transfer_id, "transfer.cancelled") == []


async def test_agency_payment_lowers_the_items_open_amount_once_per_payment_id(dossier_api, db, short_window):
    card = await new_client(dossier_api, "900.00", "300.00")
    client_id = UUID(card["client"]["id"])
    transfer_id, _ = await short_window(card, [i["id"] for i in card["open_items"]], window=60)
    payment = dict(transfer_id=UUID(transfer_id), client_id=client_id, agency_code=AGENCY,
                   payment_id=f"PAY-{uuid4().hex[:8]}", item_number="F-1", amount=Decimal("250.00"),
                   collected_on=date.today())
    await agency_says(db, AgencyPaymentCollected(**payment))
    await agency_says(db, AgencyPaymentCollected(**payment))  # replayed by the agency: new event id

    async def f1_lowered():
        detail = (await dossier_api.get(f"/transfers/{transfer_id}")).json()
        f1 = next(i for i in detail["items"] if i["number"] == "F-1")
        return f1 if Decimal(f1["open_amount"]) != Decimal("900.00") else None

    f1 = await eventually(f1_lowered)
    await asyncio.sleep(2)  # time for the replay to arrive too
    f1 = await f1_lowered()
    assert Decimal(f1["open_amount"]) == Decimal("650.00")
    applied = await db.fetch(
        "SELECT event FROM outbox WHERE event_type = 'item.payment_applied'"
        " AND event->'payload'->>'payment_id' = $1", payment["payment_id"])
    assert len(applied) == 1
    assert Decimal(applied[0]["event"]["payload"]["open_amount"]) == Decimal("650.00")
    card = (await dossier_api.get(f"/clients/{card['client']['code']}")).json()
    assert Decimal(card["client"]["balance"]) == Decimal("950.00")

    await agency_says(db, AgencyStatusUpdated(transfer_id=UUID(transfer_id), client_id=client_id,
                                              agency_code=AGENCY, status="payment_plan",
                                              comment="3 monthly instalments"))

    async def status_recorded():
        detail = (await dossier_api.get(f"/transfers/{transfer_id}")).json()
        return detail if detail["agency_status"] == "payment_plan" else None

    detail = await eventually(status_recorded)
    assert [(a["actor"], a["action"]) for a in detail["actions"]][-1] == (
        f"agency:{AGENCY}", "agency_status")


async def _detail_in_state(dossier_api, transfer_id: str, state: str) -> dict | None:
    detail = (await dossier_api.get(f"/transfers/{transfer_id}")).json()
    return detail if detail["state"] == state else None


# ---- F-30: concurrent cancels around the boundary ---------------------------------------


async def test_f30_concurrent_cancels_around_the_window_end_never_both_place_and_cancel_immediately(
    dossier_api, db, short_window
):
    window = 5.0
    cards = [await new_client(dossier_api) for _ in range(8)]
    transfers = []
    for card in cards:
        item_ids = [i["id"] for i in card["open_items"]]
        transfer_id, window_end = await short_window(card, item_ids, window=window)
        transfers.append((card, item_ids, transfer_id, window_end))

    async def cancel_at(transfer_id: str, moment: datetime) -> httpx.Response:
        await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))
        return await dossier_api.post(f"/transfers/{transfer_id}/cancel",
                                      json={"comment": f"cancel at {moment.isoformat()}"})

    # Each transfer gets three clicks within ±0.2 s of its own moment; the moments spread
    # from 2 s before to 1 s after the window end, densest around the boundary.
    rng = random.Random(30)
    calls = []
    centres = [-2.0, -1.0, -0.4, -0.15, 0.0, 0.15, 0.4, 1.0]
    for (_, _, transfer_id, window_end), centre in zip(transfers, centres, strict=False):
        for _ in range(3):
            offset = timedelta(seconds=centre + rng.uniform(-0.2, 0.2))
            calls.append((transfer_id, cancel_at(transfer_id, window_end + offset)))
    responses = await asyncio.gather(*(c for _, c in calls))

    by_transfer: dict[str, list[httpx.Response]] = {}
    for (transfer_id, _), response in zip(calls, responses, strict=True):
        by_transfer.setdefault(transfer_id, []).append(response)
    modes = []
    for card, item_ids, transfer_id, _ in transfers:
        answers = by_transfer[transfer_id]
        won = [r for r in answers if r.status_code == 200]
        assert len(won) == 1, [r.text for r in answers]  # one cancel wins, the others are refused
        assert all(r.status_code == 409 for r in answers if r.status_code != 200), [r.text for r in answers]
        modes.append(mode := won[0].json()["mode"])
        placed = await events(db, transfer_id, "transfer.placed")
        immediate = [e for e in await events(db, transfer_id, "transfer.cancelled")
                     if e["payload"]["mode"] == "immediate"]
        if mode == "immediate":
            assert (placed, len(immediate)) == ([], 1)
            assert await holders(db, item_ids) == {UUID(card["active_dossier"]["id"])}
        else:
            assert (len(placed), immediate) == (1, [])
            assert len(await events(db, transfer_id, "transfer.cancellation_requested")) == 1
            assert await holders(db, item_ids) == {UUID(transfer_id)}
        # Every item is in exactly one dossier, and it is one of this client's.
        count = await db.fetchval("SELECT count(*) FROM items WHERE id = ANY($1::uuid[])",
                                  [UUID(i) for i in item_ids])
        assert count == len(item_ids)

    await asyncio.sleep(1.5)  # past every window end: no late placement after an immediate cancel
    for (_, _, transfer_id, _), mode in zip(transfers, modes, strict=False):
        assert len(await events(db, transfer_id, "transfer.placed")) == (0 if mode == "immediate" else 1)
    assert {"immediate", "request"} <= set(modes), modes


async def test_f34_dossier_metrics_export_open_transfers_by_state(dossier_api, platform):
    card = await new_client(dossier_api)
    created = await dossier_api.post(f"/clients/{card['client']['code']}/transfers",
                                     json=transfer_body([card["open_items"][0]["id"]]))
    assert created.status_code == 201
    async with httpx.AsyncClient(base_url=platform.running["dossier"].url) as client:
        text = (await client.get("/metrics")).text
    lines = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
             if line.startswith("relance_transfers_")}
    assert lines['relance_transfers_open{state="in_window"}'] >= 1
    assert 'relance_transfers_open{state="cancellation_pending"}' in lines
    assert lines[f'relance_transfers_agency_answer_overdue{{agency="{AGENCY}"}}'] >= 0


async def test_f29_f31_end_to_end_with_the_transfer_gateway_and_the_simulated_agency(
    dossier_api, db, short_window
):
    """The whole chain with the platform's real transfer gateway and its demo agency
    (the agency simulator, which acknowledges placements and validates cancellations by
    default): placement → acknowledgement → cancellation request → validation."""
    card = await new_client(dossier_api)
    item_ids = [i["id"] for i in card["open_items"]]
    transfer_id, _ = await short_window(card, item_ids, agency="RECOUVEO")
    acknowledged = await eventually(
        lambda: _detail_in_state(dossier_api, transfer_id, "placed_acknowledged"))
    assert acknowledged["agency_reference"]
    response = await dossier_api.post(f"/transfers/{transfer_id}/cancel",
                                      json={"comment": "Paid to us directly"})
    assert response.json() == {"mode": "request", "state": "cancellation_pending"}
    closed = await eventually(lambda: _detail_in_state(dossier_api, transfer_id, "closed"))
    assert closed["cancellation_mode"] == "agency_validated"
    assert await holders(db, item_ids) == {UUID(card["active_dossier"]["id"])}
    # F-33 (issue 10): each of the agency's answers is in the transfer's actions once, not
    # once by the gateway and again by the transfer history.
    agency_actions = [(a["action"], a["comment"]) for a in closed["actions"]
                      if a["actor"] == "agency:RECOUVEO"]
    assert agency_actions == [
        ("acknowledge_placement", acknowledged["agency_reference"]),
        ("cancel_agency_validated", "Validated by the simulated agency"),
    ]


# ---- an oversized transfer: 10,000 items, placed like any other (issue 10) -----------------


async def test_a_10000_item_transfer_is_placed_through_a_claim_check_and_nothing_is_parked(
    dossier_api, db, short_window
):
    """The placement of 10,000 items is about 2 MB, over the broker's 1 MiB message limit:
    before claim checks its outbox row was parked and the agency never got it. Now the
    event travels as its id, the gateway reads the payload back from the dossier, and the
    agency receives all 10,000 items."""
    card = await new_client(dossier_api, "10.00")
    code = card["client"]["code"]
    await import_many_invoices(dossier_api, code, 10_000, amount="12.50", due_in_days=-45)
    item_ids = [str(i) for i in await db.fetchval(
        "SELECT array_agg(i.id ORDER BY i.number) FROM items i JOIN clients c ON c.id = i.client_id"
        " WHERE c.code = $1 AND i.number LIKE 'BIG-%'", code)]
    assert len(item_ids) == 10_000

    transfer_id, _ = await short_window(card, item_ids)

    placement = await eventually(lambda: db.fetchval(
        "SELECT placement FROM gateway_placements WHERE transfer_id = $1", UUID(transfer_id)), timeout=90)
    assert len(placement["items"]) == 10_000
    assert {i["item_id"] for i in placement["items"]} == set(item_ids)
    assert sum(Decimal(i["open_amount"]) for i in placement["items"]) == Decimal("125000.00")
    assert (await dossier_api.get(f"/transfers/{transfer_id}")).json()["state"] == "placed"

    # What went through the broker: the envelope and its claim, far under the limit.
    [published] = await events(db, transfer_id, "transfer.placed")
    assert published["payload"] == {}
    assert published["payload_claim"]["size_bytes"] > 1_048_576
    assert len(json.dumps(published)) < 10_000
    assert await db.fetchval(
        f"SELECT count(*) FROM {ALL_OUTBOXES} WHERE parked_at IS NOT NULL"
        " AND event->>'aggregate_id' = $1", transfer_id) == 0
    # The transfer's creation (10,000 item ids, about 400 kB) went the same way.
    [created] = await events(db, transfer_id, "transfer.created")
    assert created["payload"] == {} and created["payload_claim"] is not None


async def test_f31_an_active_agency_is_kept_a_moment_then_asked_again(platform, db) -> None:
    """A burst of transfers asks the gateway once per agency (AGENCY_REGISTRY_CACHE_SECONDS):
    the answer "active" is kept that long, so a deactivation holds for new transfers once
    it has passed; an unknown or inactive agency is asked again every time."""
    from relance_dossier.agency_registry import AgencyRegistry

    code = f"KEPT-{uuid4().hex[:6].upper()}"
    async with httpx.AsyncClient() as http:
        registry = AgencyRegistry(http, platform.running["transfer-gateway"].url,
                                  internal_token=platform.internal_api_token,
                                  timeout_seconds=5, cache_seconds=1.0)
        assert await registry.agency(code) is None  # not registered yet: not kept either
        await db.execute(
            "INSERT INTO gateway_agencies (id, code, name, api_key_sha256) VALUES ($1, $2, $3, $4)",
            uuid4(), code, "Kept agency", uuid4().hex)
        assert await registry.agency(code) == RegisteredAgency(code=code, name="Kept agency", active=True)
        await db.execute("UPDATE gateway_agencies SET active = false WHERE code = $1", code)
        assert (await registry.agency(code)).active  # within the delay: the answer kept
        await asyncio.sleep(1.1)
        assert not (await registry.agency(code)).active  # past it: the gateway asked again
        assert not (await registry.agency(code)).active  # and an inactive one is not kept
