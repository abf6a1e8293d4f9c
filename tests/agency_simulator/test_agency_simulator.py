"""The agency simulator as a real process next to the gateway (F-29, F-31): it receives
the signed webhooks of the demo agency the gateway registered on start, checks their
signatures, and answers through the signed agency API by its policy."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
import pytest

from relance_devstack.supervisor import Supervisor
from tests.conftest import eventually
from tests.gateway.test_gateway_support import (
    agency_events,
    write_cancellation_request,
    write_placement,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def simulator(platform: Supervisor):
    async with httpx.AsyncClient(base_url=platform.running["agency-simulator"].url, timeout=30) as client:
        before = (await client.get("/policy")).json()
        yield client
        await client.put("/policy", json=before)  # other tests share the simulator


async def set_policy(simulator: httpx.AsyncClient, policy: str, **knobs) -> None:
    body = {"policy": policy, "delay_seconds": 0, "flaky_rate": 0, "flaky_max_failures": 0, **knobs}
    response = await simulator.put("/policy", json=body)
    assert response.status_code == 200, response.text


async def received_for(simulator: httpx.AsyncClient, event_id) -> list[dict]:
    return [r for r in (await simulator.get("/received")).json() if r["event_id"] == str(event_id)]


async def test_f31_simulator_acknowledges_placements_and_validates_cancellations(
    db, platform, simulator
):
    code = platform.demo_agency_code
    await set_policy(simulator, "accept")
    placed = await write_placement(db, code)

    [webhook] = await eventually(lambda: received_for(simulator, placed.event_id), timeout=30)
    assert webhook["signature_valid"] is True
    assert webhook["event_type"] == "placement"
    assert webhook["body"]["data"]["transfer_id"] == str(placed.transfer_id)

    [ack] = await eventually(
        lambda: agency_events(db, "agency.placement_acknowledged", placed.transfer_id), timeout=30)
    assert ack["payload"]["agency_reference"].startswith("SIM-")
    assert ack["client_id"] == str(placed.client_id)

    request_id = await write_cancellation_request(db, placed, code)
    [request] = await eventually(lambda: received_for(simulator, request_id), timeout=30)
    assert request["event_type"] == "cancellation_request" and request["signature_valid"]
    [validated] = await eventually(
        lambda: agency_events(db, "agency.cancellation_validated", placed.transfer_id), timeout=30)
    assert validated["payload"]["agency_code"] == code


async def test_f29_simulator_refusing_policy_refuses_cancellations_with_a_reason(db, platform, simulator):
    code = platform.demo_agency_code
    await set_policy(simulator, "refuse")
    placed = await write_placement(db, code)
    await eventually(lambda: agency_events(db, "agency.placement_acknowledged", placed.transfer_id),
                     timeout=30)
    await write_cancellation_request(db, placed, code)
    [refused] = await eventually(
        lambda: agency_events(db, "agency.cancellation_refused", placed.transfer_id), timeout=30)
    assert refused["payload"]["reason"]


async def test_f31_flaky_simulator_gets_the_webhook_again_until_it_accepts(db, platform, simulator):
    code = platform.demo_agency_code
    # Every webhook fails, but at most twice in a row per message: two retries, then 200.
    await set_policy(simulator, "flaky", flaky_rate=1, flaky_max_failures=2)
    placed = await write_placement(db, code)
    await eventually(lambda: agency_events(db, "agency.placement_acknowledged", placed.transfer_id),
                     timeout=60)
    statuses = [r["answered_with_status"] for r in await received_for(simulator, placed.event_id)]
    assert statuses == [500, 500, 200]


async def test_f30_never_answering_simulator_leaves_the_placement_unacknowledged(db, platform, simulator):
    code = platform.demo_agency_code
    await set_policy(simulator, "never")
    placed = await write_placement(db, code)
    [webhook] = await eventually(lambda: received_for(simulator, placed.event_id), timeout=30)
    assert webhook["answered_with_status"] == 200
    await asyncio.sleep(1.5)  # time an accepting simulator needs to answer
    answers = (await simulator.get("/answers")).json()
    assert all(str(placed.event_id) != a["event_id"] for a in answers)
    assert await agency_events(db, "agency.placement_acknowledged", placed.transfer_id) == []


async def test_f31_delaying_simulator_answers_after_its_delay(db, platform, simulator):
    await set_policy(simulator, "delay", delay_seconds=2)
    placed = await write_placement(db, platform.demo_agency_code)
    [webhook] = await eventually(lambda: received_for(simulator, placed.event_id), timeout=30)
    assert await agency_events(db, "agency.placement_acknowledged", placed.transfer_id) == []
    await eventually(lambda: agency_events(db, "agency.placement_acknowledged", placed.transfer_id),
                     timeout=30)
    [answer] = [a for a in (await simulator.get("/answers")).json()
                if a["event_id"] == str(placed.event_id)]
    waited = datetime.fromisoformat(answer["at"]) - datetime.fromisoformat(webhook["at"])
    assert waited.total_seconds() >= 2
