"""The signal bridge consumes in lanes (issue 11, ARCHITECTURE "one client's events stay
in order"): a batch of `transfer.created` events of several clients is started on the real
Temporal dev server concurrently across clients, each client's events in the order they
were written, every workflow once. The bridge's own broker factory runs in this process on
the real Kafka-protocol broker, on a topic and consumer group of its own."""

import asyncio
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from relance.db import create_pool
from relance.dead_letters import DeadLetters
from relance.events import EventEnvelope, TransferCreated
from relance.kafka import ensure_topics, new_producer
from relance.workflow_ids import transfer_workflow_id
from relance_workflow.messaging.bridge import SignalBridge
from relance_workflow.messaging.subscriber import build_bridge_broker
from relance_workflow.persistence.migrations import SCHEMA
from relance_workflow.settings import Settings
from tests.conftest import eventually

CLIENTS, PER_CLIENT = 4, 3


class RecordingBridge(SignalBridge):
    """The real bridge, each event held 0.1 s longer (a busy Temporal server), recording
    the order it handled them in and how many it held at once."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.handled: list[tuple[UUID, UUID]] = []  # (client, transfer)
        self.in_flight = self.most_in_flight = 0

    async def handle(self, envelope: EventEnvelope) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.1)
            await super().handle(envelope)
            created = envelope.payload_as(TransferCreated)
            self.handled.append((created.client_id, created.transfer_id))
        finally:
            self.in_flight -= 1


@pytest.fixture(scope="module")
async def dev_client(stack) -> Client:
    return await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)


async def test_transfer_starts_run_concurrently_across_clients_in_order_within_one(stack, dev_client):
    topic = f"test.bridge.lanes.{uuid4().hex[:8]}"
    await ensure_topics(stack.kafka_bootstrap_servers, topics=(topic,), partitions=2)
    settings = Settings(database_url=stack.database_url,
                        kafka_bootstrap_servers=stack.kafka_bootstrap_servers,
                        bridge_concurrency=CLIENTS)
    # A task queue no worker polls: the workflows exist without running.
    bridge = RecordingBridge(dev_client, f"lanes-{uuid4().hex[:6]}", settings)
    pool = await create_pool(stack.database_url, schema=SCHEMA, max_size=2)
    broker = build_bridge_broker(settings, bridge, DeadLetters.from_settings(pool, settings),
                                 topics=(topic,), group_id=f"test-bridge-lanes-{uuid4().hex[:8]}")
    producer = new_producer(stack.kafka_bootstrap_servers)
    written: dict[UUID, list[UUID]] = {uuid4(): [] for _ in range(CLIENTS)}
    try:
        await producer.start()
        for n in range(PER_CLIENT):  # the clients in turn, as a burst of transfers
            for client_id, transfers in written.items():
                transfer_id = uuid4()
                event = TransferCreated(
                    transfer_id=transfer_id, client_id=client_id, client_code=f"BL-{n}",
                    agency_code="AG-BL", item_ids=[uuid4()], next_follow_up_date=date(2030, 1, 1),
                    opening_comment="lanes", created_at=datetime.now(UTC))
                envelope = event.envelope(aggregate_id=transfer_id, client_id=client_id)
                await producer.send_and_wait(topic, value=envelope.model_dump_json().encode(),
                                             key=str(client_id).encode())
                transfers.append(transfer_id)
        await broker.start()

        async def all_handled():
            return len(bridge.handled) >= CLIENTS * PER_CLIENT

        await eventually(all_handled, timeout=60)
        await asyncio.sleep(0.5)  # nothing more comes: nothing handled twice
    finally:
        await broker.stop()
        await producer.stop()

    try:
        assert sorted(t for _, t in bridge.handled) == sorted(t for ts in written.values() for t in ts)
        for client_id, transfers in written.items():
            assert [t for c, t in bridge.handled if c == client_id] == transfers, \
                f"client {client_id} out of order"
        assert bridge.most_in_flight >= 2  # clients at once (each event 0.1 s)
        for transfers in written.values():  # each workflow started, once
            for transfer_id in transfers:
                described = await dev_client.get_workflow_handle(
                    transfer_workflow_id(transfer_id)).describe()
                assert described.workflow_type == "TransferWorkflow"
        parked = await pool.fetchval(
            "SELECT count(*) FROM dead_letters WHERE topic = $1", topic)
        assert parked == 0
    finally:
        await pool.close()
