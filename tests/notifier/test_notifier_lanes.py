"""Lanes (F-32, ARCHITECTURE "one client's events stay in order"): the notifier's
subscriber, in this process on the real broker and database, sends a batch of commands
for several clients concurrently while each client's emails go out in the order of its
commands. Its own topic and consumer group keep it apart from the platform's notifier;
a real local SMTP server that answers slowly stands for the relay."""

import asyncio
from email import message_from_bytes
from uuid import UUID, uuid4

import pytest
from aiosmtpd.controller import Controller

from relance.db import create_pool
from relance.dead_letters import DeadLetters
from relance.kafka import ensure_topics, new_producer
from relance.lanes import lanes_of
from relance_devstack.embedded import free_port
from relance_dossier.persistence.communications import communication_command
from relance_notifier.channels.email import COMMUNICATION_ID_HEADER, EmailChannel
from relance_notifier.messaging.subscriber import build_broker
from relance_notifier.persistence.migrations import SCHEMA as NOTIFIER_SCHEMA
from relance_notifier.service import Notifier
from relance_notifier.settings import Settings
from tests.conftest import eventually

CLIENTS, PER_CLIENT = 3, 4


class SlowRelay:
    """Takes 0.1 s a message; records the communication ids in the order it accepted
    them and how many messages it held at once."""

    def __init__(self) -> None:
        self.received: list[UUID] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.1)
            mail = message_from_bytes(envelope.original_content)
            self.received.append(UUID(mail[COMMUNICATION_ID_HEADER]))
        finally:
            self.in_flight -= 1
        return "250 Message accepted"


@pytest.fixture
def slow_relay():
    relay, port = SlowRelay(), free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    yield relay, port
    controller.stop()


async def seed_clients(pool, count: int) -> list[UUID]:
    ids = []
    async with pool.acquire() as conn, conn.transaction():
        for _ in range(count):
            client_id, contact_id = uuid4(), uuid4()
            await conn.execute("INSERT INTO clients (id, code, name) VALUES ($1, $2, $3)",
                               client_id, f"LANES-{client_id.hex[:8]}", "Client en file")
            await conn.execute("INSERT INTO contacts (id, client_id, name) VALUES ($1, $2, $3)",
                               contact_id, client_id, "Comptabilité")
            await conn.execute(
                "INSERT INTO contact_channels (id, contact_id, client_id, type, value, state,"
                " is_default) VALUES ($1, $2, $3, 'email', $4, 'validated', true)",
                uuid4(), contact_id, client_id, f"compta-{client_id.hex[:8]}@client.example",
            )
            ids.append(client_id)
    return ids


def test_f32_lanes_group_by_key_in_order() -> None:
    items = [("a", 1), ("b", 1), ("a", 2), ("c", 1), ("b", 2)]
    assert lanes_of(items, key=lambda item: item[0]) == [
        [("a", 1), ("a", 2)], [("b", 1), ("b", 2)], [("c", 1)]]


async def test_f32_clients_are_sent_concurrently_each_clients_emails_in_order(stack, slow_relay):
    relay, port = slow_relay
    topic = f"test.notifier.lanes.{uuid4().hex[:8]}"
    await ensure_topics(stack.kafka_bootstrap_servers, topics=(topic,), partitions=2)
    dossier = await create_pool(stack.database_url, schema="dossier", max_size=2)
    pool = await create_pool(stack.database_url, schema=NOTIFIER_SCHEMA, max_size=4)
    settings = Settings(database_url=stack.database_url, smtp_host="127.0.0.1", smtp_port=port,
                        email_rate_per_second=0, send_concurrency=CLIENTS,
                        smtp_pool_size=CLIENTS, kafka_bootstrap_servers=stack.kafka_bootstrap_servers)
    channel = EmailChannel(settings)
    broker = build_broker(settings, Notifier(pool, {"email": channel}, settings),
                          DeadLetters.from_settings(pool, settings),
                          topic=topic, group_id=f"test-lanes-{uuid4().hex[:8]}")
    producer = new_producer(stack.kafka_bootstrap_servers)
    try:
        clients = await seed_clients(dossier, CLIENTS)
        sent_order: dict[UUID, list[UUID]] = {client_id: [] for client_id in clients}
        await producer.start()
        for _ in range(PER_CLIENT):  # the clients in turn, as a morning batch
            for client_id in clients:
                async with dossier.acquire() as conn:
                    command = await communication_command(
                        conn, communication_id=uuid4(), client_id=client_id, channel="email",
                        template_code="relance-email-1", item_ids=[], automatic=True)
                envelope = command.envelope(aggregate_id=client_id, client_id=client_id)
                await producer.send_and_wait(topic, value=envelope.model_dump_json().encode(),
                                             key=str(client_id).encode())
                sent_order[client_id].append(command.communication_id)
        await broker.start()

        async def all_received():
            return len(relay.received) >= CLIENTS * PER_CLIENT

        await eventually(all_received, timeout=60)
        await asyncio.sleep(0.3)  # nothing more arrives: nothing sent twice
    finally:
        await broker.stop()
        await producer.stop()
        await channel.aclose()

    try:
        assert sorted(relay.received) == sorted(c for ids in sent_order.values() for c in ids)
        for client_id, ids in sent_order.items():
            assert [c for c in relay.received if c in ids] == ids, f"client {client_id} out of order"
        assert relay.most_in_flight >= 2  # clients sent at once (each 0.1 s at the relay)
        async def all_recorded():
            return await pool.fetchval(
                "SELECT count(*) FROM outbox WHERE event_type = 'communication.sent'"
                " AND key = ANY($1::text[])", [str(c) for c in clients]) == CLIENTS * PER_CLIENT
        await eventually(all_recorded, timeout=10)
        sent = await pool.fetchval(
            "SELECT count(*) FROM communications WHERE client_id = ANY($1::uuid[])"
            " AND status = 'sent'", clients)
        assert sent == CLIENTS * PER_CLIENT
    finally:
        await pool.close()
        await dossier.close()
