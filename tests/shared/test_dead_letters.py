"""Poison messages on the real broker and database: a consumer retries a failing message
a bounded number of times with backoff, parks it as a dead letter (error, topic,
partition, offset, key, payload) and moves on to the next message of the same partition;
a message that is not an event envelope is parked at once; a parked message is replayed
to its topic."""

import asyncio
from types import SimpleNamespace
from uuid import uuid4

import asyncpg
import httpx
import pytest
from faststream.kafka.annotations import KafkaMessage

from relance.db import create_pool
from relance.dead_letters import (
    DEAD_LETTERS,
    DEAD_LETTERS_WAITING,
    DeadLetters,
    list_dead_letters,
    replay_dead_letters,
)
from relance.events import ClientUpdated, EventEnvelope
from relance.kafka import ensure_topics, new_producer, service_broker
from relance.topics import COMMUNICATION_COMMANDS, TRANSFER_EVENTS
from relance_devstack.migrate import upgrade_all as upgrade
from tests.conftest import eventually

SCHEMA = "workflow"
URLS: dict[int, str] = {}


@pytest.fixture
async def private_pool(stack):
    """A database of its own, every history applied; the pool on one service's schema."""
    name = f"dead_{uuid4().hex[:12]}"
    admin = await asyncpg.connect(stack.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = stack.database_url.replace("/relance?", f"/{name}?", 1)
    assert url != stack.database_url
    await asyncio.to_thread(upgrade, url)
    pool = await create_pool(url, schema=SCHEMA, max_size=4)
    URLS[id(pool)] = url
    yield pool
    await pool.close()


@pytest.fixture
async def producer(stack):
    p = new_producer(stack.kafka_bootstrap_servers)
    await p.start()
    yield p
    await p.stop()


def _envelope(seq: int, client_id) -> EventEnvelope:
    return ClientUpdated(client_id=client_id, code="C1", changed={"seq": seq}).envelope(
        aggregate_id=client_id, client_id=client_id
    )


async def test_poison_and_malformed_messages_are_parked_and_the_partition_moves_on(
    stack, private_pool, producer
) -> None:
    topic = f"test.dead-letters.{uuid4().hex[:8]}"
    await ensure_topics(stack.kafka_bootstrap_servers, topics=(topic,), partitions=1)
    client_id = uuid4()
    poison, good, later = (_envelope(n, client_id) for n in range(3))
    dead_letters = DeadLetters(private_pool, "test-consumer", max_attempts=3,
                               backoff_base=0.05, backoff_max=0.2)
    handled: list[str] = []
    attempts: dict[str, int] = {}
    broken = {str(poison.event_id)}

    async def handler(envelope: EventEnvelope) -> None:
        attempts[str(envelope.event_id)] = attempts.get(str(envelope.event_id), 0) + 1
        if str(envelope.event_id) in broken:
            raise RuntimeError("cannot apply this one")
        handled.append(str(envelope.event_id))

    broker = service_broker(stack.kafka_bootstrap_servers, "test-dead-letters")

    @broker.subscriber(topic, group_id=f"g-{uuid4().hex[:8]}", auto_offset_reset="earliest",
                       ack_policy=__import__("faststream").AckPolicy.NACK_ON_ERROR)
    async def on_message(message: KafkaMessage) -> None:
        await dead_letters.handle(message, handler)

    before = DEAD_LETTERS.labels("test-consumer", topic)._value.get()
    key = str(client_id).encode()
    await broker.start()
    try:
        # One key, so one partition, in this order: poison, unreadable, good.
        await producer.send_and_wait(topic, value=poison.model_dump_json().encode(), key=key)
        await producer.send_and_wait(topic, value=b"{not an envelope", key=key)
        await producer.send_and_wait(topic, value=good.model_dump_json().encode(), key=key)
        await eventually(lambda: _async(str(good.event_id) in handled), timeout=30)

        rows = await list_dead_letters(private_pool)
        assert [r["event_id"] for r in rows] == [str(poison.event_id), None]
        first, unreadable = rows
        assert attempts[str(poison.event_id)] == 3  # bounded: then parked
        assert first["attempts"] == 3 and "RuntimeError: cannot apply this one" in first["error"]
        assert (first["topic"], first["partition"], first["key"]) == (topic, 0, str(client_id))
        assert first["payload"] == poison.model_dump_json()
        assert unreadable["attempts"] == 0 and unreadable["error"].startswith("not an event envelope")
        assert unreadable["payload"] == "{not an envelope"
        assert unreadable["offset"] == first["offset"] + 1
        assert DEAD_LETTERS.labels("test-consumer", topic)._value.get() == before + 2
        assert DEAD_LETTERS_WAITING.labels("test-consumer")._value.get() == 2

        # Fixed, the poison message is replayed to its topic and applied; then the stream
        # goes on as before.
        broken.clear()
        assert await replay_dead_letters(private_pool, producer, [first["id"]]) == 1
        await eventually(lambda: _async(str(poison.event_id) in handled), timeout=30)
        await producer.send_and_wait(topic, value=later.model_dump_json().encode(), key=key)
        await eventually(lambda: _async(str(later.event_id) in handled), timeout=30)
        assert handled == [str(good.event_id), str(poison.event_id), str(later.event_id)]
        waiting = await list_dead_letters(private_pool)
        assert [r["id"] for r in waiting] == [unreadable["id"]]
        everything = await list_dead_letters(private_pool, include_replayed=True)
        assert everything[0]["replayed_at"] is not None
    finally:
        await broker.stop()


async def _async(value):
    return value


def _record(offset: int = 7):
    return SimpleNamespace(topic="t", partition=0, offset=offset, key=b"k")


async def test_an_outage_is_retried_without_parking(stack, private_pool) -> None:
    """The database or Temporal not answering is not the message's fault: retried in place,
    beyond the attempt budget, and nothing is parked."""
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    dead_letters = DeadLetters(private_pool, "outage", max_attempts=2, backoff_base=0.5,
                               backoff_max=2, sleep=sleep)
    calls = 0

    async def handler(_: EventEnvelope) -> None:
        nonlocal calls
        calls += 1
        if calls <= 4:
            raise ConnectionRefusedError("database down")

    envelope = _envelope(0, uuid4())
    message = SimpleNamespace(raw_message=_record(), body=envelope.model_dump_json().encode())
    await dead_letters.handle(message, handler)
    assert calls == 5 and sleeps == [0.5, 1, 2, 2]
    assert await list_dead_letters(private_pool) == []


async def test_an_invalid_payload_is_parked_without_retries(stack, private_pool) -> None:
    from pydantic import BaseModel

    class Strict(BaseModel):
        n: int

    dead_letters = DeadLetters(private_pool, "invalid", max_attempts=5, backoff_base=0.01)
    calls = 0

    async def handler(envelope: EventEnvelope) -> None:
        nonlocal calls
        calls += 1
        Strict.model_validate({"n": "not a number"})

    envelope = _envelope(0, uuid4())
    message = SimpleNamespace(raw_message=_record(), body=envelope.model_dump_json().encode())
    await dead_letters.handle(message, handler)
    # Redelivered (a crash before the commit): parked once.
    await dead_letters.handle(message, handler)
    assert calls == 2
    rows = await list_dead_letters(private_pool)
    assert len(rows) == 1 and "ValidationError" in rows[0]["error"]

    # A broker that lost its log reuses offsets: another message at the same offset is
    # still parked, not taken for a redelivery.
    other = SimpleNamespace(raw_message=_record(), body=b"not an envelope")
    await dead_letters.handle(other, handler)
    assert len(await list_dead_letters(private_pool)) == 2


async def test_each_consuming_service_parks_its_unreadable_messages(
    platform, stack, producer, db
) -> None:
    """The notifier, the gateway, the dossier's trace consumer and the workflow bridge park
    what they cannot read in their own schema, list it on /operations/dead-letters and
    replay it from there."""
    from relance.topics import COMMUNICATION_EVENTS

    marker = uuid4().hex
    cases = {
        "notifier": (COMMUNICATION_COMMANDS, "notifier"),
        "transfer-gateway": (TRANSFER_EVENTS, "gateway"),
        "dossier": (COMMUNICATION_EVENTS, "dossier"),
        "workflow": (COMMUNICATION_EVENTS, "workflow"),
    }
    body = f'{{"garbage": "{marker}"}}'.encode()
    for topic in {t for t, _ in cases.values()}:
        await producer.send_and_wait(topic, value=body, key=marker.encode())

    async with httpx.AsyncClient(timeout=30, headers={
            "X-Internal-Token": platform.internal_api_token}) as http:
        for service, (topic, schema) in cases.items():
            async def parked(schema=schema, topic=topic):
                return await db.fetchrow(
                    f"SELECT * FROM {schema}.dead_letters WHERE key = $1 AND topic = $2",
                    marker, topic)

            row = await eventually(parked, timeout=60)
            assert row["error"].startswith("not an event envelope") and bytes(row["payload"]) == body
            url = platform.running[service].url
            assert (await http.get(f"{url}/operations/dead-letters",
                                   headers={"X-Internal-Token": "wrong"})).status_code == 401
            listed = (await http.get(f"{url}/operations/dead-letters")).json()
            assert row["id"] in [d["id"] for d in listed["dead_letters"]]
            assert listed["waiting"] >= 1
            metrics = (await http.get(f"{url}/metrics")).text
            assert f'relance_dead_letters_total{{service="{_service_name(service)}",topic="{topic}"}}' in metrics
            replayed = (await http.post(f"{url}/operations/dead-letters/replay",
                                        json={"ids": [row["id"]]})).json()
            assert replayed["replayed"] == 1
            # Replayed to its topic, it is still unreadable: parked again, as a new message.
            await eventually(lambda schema=schema, topic=topic, offset=row["offset"]: db.fetchval(
                f'SELECT max("offset") > $3 FROM {schema}.dead_letters WHERE key = $1 AND topic = $2',
                marker, topic, offset), timeout=60)


def _service_name(service: str) -> str:
    return {"transfer-gateway": "transfer-gateway"}.get(service, service)


async def test_the_cli_lists_and_replays_dead_letters(stack, private_pool, producer, capsys) -> None:
    from relance_devstack import cli

    topic = f"test.dead-letters.{uuid4().hex[:8]}"
    await ensure_topics(stack.kafka_bootstrap_servers, topics=(topic,), partitions=1)
    await DeadLetters(private_pool, "cli").park(
        SimpleNamespace(topic=topic, partition=0, offset=3, key=b"k1"), b"payload-1", None,
        "not an event envelope: test", 0)
    env = {"DATABASE_URL": URLS[id(private_pool)],
           "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap_servers}
    import os
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        assert await asyncio.to_thread(cli.main, ["dead-letters", "list", "--service", SCHEMA]) == 0
        assert f"{topic}[0]@3" in capsys.readouterr().out
        assert await asyncio.to_thread(cli.main, ["dead-letters", "replay", "--service", SCHEMA]) == 0
        assert f"{SCHEMA}: 1 dead letters re-published" in capsys.readouterr().out
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k)
            else:
                os.environ[k] = v
    assert await list_dead_letters(private_pool) == []
