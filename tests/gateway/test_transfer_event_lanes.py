"""Lanes on the gateway's `transfer.events` (F-29, F-31; ARCHITECTURE "one client's events
stay in order"): the gateway's subscriber, in this process on the real broker and
database, applies a batch of placements and cancellation requests for several clients at
once, and each client's cancellation request after its placement (before it, the request
would find no placement and be dropped as an unknown transfer). Its own topic and consumer
group keep it apart from the platform's gateway."""

from uuid import UUID, uuid4

from relance.db import create_pool
from relance.dead_letters import DeadLetters
from relance.kafka import ensure_topics, new_producer
from relance_gateway.messaging.transfer_events import build_broker
from relance_gateway.persistence.migrations import SCHEMA
from relance_gateway.settings import Settings
from tests.conftest import eventually
from tests.gateway.test_gateway_support import cancellation_envelope, new_agency_code, placement_envelope

CLIENTS = 6


async def test_f29_each_clients_cancellation_request_follows_its_placement_across_concurrent_lanes(stack):
    topic = f"test.gateway.lanes.{uuid4().hex[:8]}"
    await ensure_topics(stack.kafka_bootstrap_servers, topics=(topic,), partitions=2)
    pool = await create_pool(stack.database_url, schema=SCHEMA, max_size=4)
    settings = Settings(database_url=stack.database_url, kafka_bootstrap_servers=stack.kafka_bootstrap_servers,
                        transfer_events_concurrency=3)
    stored: list[None] = []
    broker = build_broker(settings, pool, lambda: stored.append(None), DeadLetters.from_settings(pool, settings),
                          topic=topic, group_id=f"test-gateway-lanes-{uuid4().hex[:8]}")
    agency = new_agency_code()
    producer = new_producer(stack.kafka_bootstrap_servers)
    transfers = []
    try:
        await producer.start()
        placed = [placement_envelope(agency) for _ in range(CLIENTS)]
        # Every placement, then every cancellation request: each client has one of each.
        requests = [cancellation_envelope(UUID(p.aggregate_id), UUID(p.client_id), agency) for p in placed]
        for envelope in placed + requests:
            await producer.send_and_wait(topic, value=envelope.model_dump_json().encode(),
                                         key=envelope.client_id.encode())
        transfers = [UUID(p.aggregate_id) for p in placed]
        await broker.start()

        async def all_applied():
            return await pool.fetchval(
                "SELECT count(*) FROM gateway_messages WHERE transfer_id = ANY($1::uuid[])",
                transfers) == 2 * CLIENTS

        await eventually(all_applied, timeout=60)
    finally:
        await broker.stop()
        await producer.stop()
    try:
        statuses = await pool.fetch(
            "SELECT status FROM gateway_placements WHERE transfer_id = ANY($1::uuid[])", transfers)
        assert [r["status"] for r in statuses] == ["cancellation_requested"] * CLIENTS
        kinds = await pool.fetch(
            "SELECT transfer_id, array_agg(kind ORDER BY created_at) AS kinds"
            " FROM gateway_messages WHERE transfer_id = ANY($1::uuid[]) GROUP BY transfer_id", transfers)
        assert {tuple(r["kinds"]) for r in kinds} == {("placement", "cancellation_request")}
        assert len(stored) == CLIENTS  # the cancellation requests; the agency is not registered
        dead = await pool.fetchval("SELECT count(*) FROM dead_letters WHERE topic = $1", topic)
        assert dead == 0
    finally:
        await pool.close()
