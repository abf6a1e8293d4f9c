"""The messaging backbone on the real broker and database: the transactional outbox, the
relay (FOR UPDATE SKIP LOCKED, LISTEN/NOTIFY, no id cursor) and idempotent consumers.

Each test gets its own database on the session's PostgreSQL so no other relay of the
session touches its rows."""

import asyncio
import json
from collections import defaultdict
from uuid import UUID, uuid4

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from relance.consumer import claim_event, claim_events
from relance.db import create_pool
from relance.events import ClientUpdated
from relance.kafka import ensure_topics, new_producer
from relance.outbox import ALONE_ABOVE_BYTES, OutboxRelay, parked_rows, replay_parked, write_events
from relance_devstack.migrate import upgrade_all as upgrade
from tests.stack import SEARCH_PATH


@pytest.fixture
async def private_url(stack):
    """A database of the test's own, migrated."""
    name = f"relay_{uuid4().hex[:12]}"
    admin = await asyncpg.connect(stack.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = stack.database_url.replace("/relance?", f"/{name}?", 1)
    assert url != stack.database_url
    await asyncio.to_thread(upgrade, url)
    return url


@pytest.fixture
async def private_db(private_url):
    pool = await create_pool(private_url, schema=SEARCH_PATH, max_size=8)
    yield pool
    await pool.close()


@pytest.fixture
async def producer(stack):
    p = new_producer(stack.kafka_bootstrap_servers)
    await p.start()
    yield p
    await p.stop()


async def _write(pool, topic: str, clients: list[UUID], per_client: int) -> set[str]:
    """`per_client` numbered events for each client, interleaved across clients, each in
    its own transaction like real state changes."""
    ids: set[str] = set()
    for seq in range(per_client):
        async with pool.acquire() as conn, conn.transaction():
            envelopes = [
                ClientUpdated(client_id=c, code=str(c), changed={"seq": seq}).envelope(
                    aggregate_id=c, client_id=c
                )
                for c in clients
            ]
            await write_events(conn, envelopes)
            # Route to this test's topic: the row is what the relay reads.
            await conn.execute(
                "UPDATE outbox SET topic = $1 WHERE event_id = ANY($2::uuid[])",
                topic, [e.event_id for e in envelopes],
            )
            ids |= {str(e.event_id) for e in envelopes}
    return ids


async def _consume(stack, topic: str, expected: int, timeout: float = 60):
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=stack.kafka_bootstrap_servers,
        group_id=f"test-{uuid4().hex[:8]}", auto_offset_reset="earliest",
    )
    await consumer.start()
    received: list[dict] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(received) < expected and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                received += [json.loads(m.value) | {"_key": m.key.decode()} for m in messages]
        # Anything published twice would arrive in the following moments.
        for messages in (await consumer.getmany(timeout_ms=1000)).values():
            received += [json.loads(m.value) | {"_key": m.key.decode()} for m in messages]
    finally:
        await consumer.stop()
    return received


async def _new_topic(stack) -> str:
    topic = f"test.relay.{uuid4().hex[:8]}"
    await ensure_topics(stack.kafka_bootstrap_servers, topics=(topic,))
    return topic


async def test_relay_publishes_every_event_once_keyed_and_in_order_per_client(stack, private_db, producer):
    topic = await _new_topic(stack)
    clients = [uuid4() for _ in range(20)]
    written = await _write(private_db, topic, clients, per_client=50)
    relay = OutboxRelay(private_db, producer, batch_size=200)
    task = asyncio.create_task(relay.run())
    try:
        received = await _consume(stack, topic, len(written))
    finally:
        relay.stop()
        await task
    ids = [r["event_id"] for r in received]
    assert len(ids) == len(written) and set(ids) == written  # none lost, none doubled
    by_client = defaultdict(list)
    for r in received:
        assert r["_key"] == r["client_id"]  # partition key = client id
        by_client[r["client_id"]].append(r["payload"]["changed"]["seq"])
    assert all(seqs == list(range(50)) for seqs in by_client.values())
    assert await private_db.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


async def test_the_message_is_the_event_as_its_writer_serialised_it(stack, private_db, producer):
    # The outbox keeps the writer's text (json, not jsonb): no key reordering, no spacing.
    topic = await _new_topic(stack)
    client = uuid4()
    envelope = ClientUpdated(client_id=client, code="C-1", changed={"b": 1, "a": "é"}).envelope(
        aggregate_id=client, client_id=client)
    async with private_db.acquire() as conn, conn.transaction():
        await write_events(conn, [envelope])
        await conn.execute("UPDATE outbox SET topic = $1 WHERE event_id = $2", topic, envelope.event_id)
    assert await OutboxRelay(private_db, producer).relay_once() == 1
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=stack.kafka_bootstrap_servers,
                                group_id=f"test-{uuid4().hex[:8]}", auto_offset_reset="earliest")
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=10)
    finally:
        await consumer.stop()
    assert message.value == envelope.model_dump_json().encode()


async def test_large_events_among_small_ones_keep_each_clients_order(stack, private_db, producer):
    # The relay builds a record batch per partition; an event over ALONE_ABOVE_BYTES goes
    # out alone, after what came before it in its partition and before what follows.
    topic = await _new_topic(stack)
    clients = [uuid4() for _ in range(5)]
    written: set[str] = set()
    for seq in range(30):
        async with private_db.acquire() as conn, conn.transaction():
            note = "x" * (ALONE_ABOVE_BYTES + 100) if seq % 7 == 3 else "small"
            envelopes = [ClientUpdated(client_id=c, code=str(c), changed={"seq": seq, "note": note})
                         .envelope(aggregate_id=c, client_id=c) for c in clients]
            await write_events(conn, envelopes)
            await conn.execute("UPDATE outbox SET topic = $1 WHERE event_id = ANY($2::uuid[])",
                               topic, [e.event_id for e in envelopes])
            written |= {str(e.event_id) for e in envelopes}
    relay = OutboxRelay(private_db, producer, batch_size=200)
    while await relay.relay_once():
        pass
    received = await _consume(stack, topic, len(written))
    assert sorted(r["event_id"] for r in received) == sorted(written)  # none lost, none doubled
    by_client = defaultdict(list)
    for r in received:
        by_client[r["client_id"]].append(r["payload"]["changed"]["seq"])
    assert all(seqs == list(range(30)) for seqs in by_client.values())
    large = [r for r in received if len(r["payload"]["changed"]["note"]) > ALONE_ABOVE_BYTES]
    assert len(large) == 5 * 4  # seq 3, 10, 17, 24 for each client


async def test_two_relays_share_the_outbox_without_publishing_anything_twice(stack, private_db, producer):
    topic = await _new_topic(stack)
    written = await _write(private_db, topic, [uuid4() for _ in range(40)], per_client=25)
    relays = [OutboxRelay(private_db, producer, batch_size=50) for _ in range(2)]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    try:
        received = await _consume(stack, topic, len(written))
    finally:
        for relay in relays:
            relay.stop()
        await asyncio.gather(*tasks)
    ids = [r["event_id"] for r in received]
    assert len(ids) == len(set(ids)) == len(written)


async def test_events_written_while_no_relay_runs_are_published_when_one_starts(stack, private_db, producer):
    topic = await _new_topic(stack)
    written = await _write(private_db, topic, [uuid4()], per_client=30)
    assert await private_db.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 30
    relay = OutboxRelay(private_db, producer)
    task = asyncio.create_task(relay.run())
    try:
        received = await _consume(stack, topic, len(written))
    finally:
        relay.stop()
        await task
    assert {r["event_id"] for r in received} == written


async def test_relay_wakes_on_notify_instead_of_waiting_for_its_slow_poll(stack, private_db, producer):
    topic = await _new_topic(stack)
    relay = OutboxRelay(private_db, producer, idle_poll_seconds=120)
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.5)  # the relay is idle, waiting on its 120 s poll
        written = await _write(private_db, topic, [uuid4()], per_client=1)
        received = await _consume(stack, topic, 1, timeout=10)
    finally:
        relay.stop()
        await task
    assert {r["event_id"] for r in received} == written


async def test_a_schemas_relay_wakes_for_its_own_outbox_only(stack, private_url, private_db, producer):
    topic = await _new_topic(stack)
    gateway_pool = await create_pool(private_url, schema="gateway", max_size=4)
    relay = OutboxRelay(gateway_pool, producer, idle_poll_seconds=120, schema="gateway")
    claims = 0
    claim = relay.relay_once

    async def counted() -> int:
        nonlocal claims
        claims += 1
        return await claim()

    relay.relay_once = counted  # type: ignore[method-assign]
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.5)  # idle, waiting on its 120 s poll
        idle = claims
        await _write(private_db, topic, [uuid4()], per_client=1)  # the dossier's outbox
        await asyncio.sleep(0.5)
        assert claims == idle  # another schema's write leaves its loops asleep
        written = await _write(gateway_pool, topic, [uuid4()], per_client=1)
        received = await _consume(stack, topic, 1, timeout=10)
    finally:
        relay.stop()
        await task
        await gateway_pool.close()
    # Its own outbox's event, at once; the dossier's waits for the dossier's relay.
    assert {r["event_id"] for r in received} == written


async def test_a_consumer_applies_an_event_once_even_when_it_is_redelivered(private_db):
    event_id = uuid4()

    async def apply(fail: bool) -> bool:
        async with private_db.acquire() as conn:
            try:
                async with conn.transaction():
                    if not await claim_event(conn, "test-consumer", event_id):
                        return False
                    await conn.execute(
                        "INSERT INTO audit_log (actor, action, entity, entity_id) VALUES"
                        " ('test', 'applied', 'event', $1)", str(event_id),
                    )
                    if fail:
                        raise RuntimeError("effect failed")
                    return True
            except RuntimeError:
                return False

    assert await apply(fail=True) is False  # the effect failed: the claim rolled back with it
    assert await apply(fail=False) is True  # so the redelivery applies it
    assert await apply(fail=False) is False  # and a second redelivery changes nothing
    applied = await private_db.fetchval(
        "SELECT count(*) FROM audit_log WHERE entity_id = $1", str(event_id)
    )
    assert applied == 1


async def test_a_batch_claim_returns_only_the_ids_not_processed_before_and_rolls_back_with_the_batch(private_db):
    seen, fresh, again = uuid4(), uuid4(), uuid4()
    async with private_db.acquire() as conn:
        assert await claim_event(conn, "test-consumer", seen)
        # Another consumer's claims are its own.
        assert await claim_events(conn, "other-consumer", [fresh]) == {fresh}

        async with conn.transaction():
            # Already processed, new, and new but twice in the same poll: each new id once.
            assert await claim_events(conn, "test-consumer", [seen, fresh, again, again]) == {fresh, again}
        assert await claim_events(conn, "test-consumer", [fresh, again]) == set()  # redelivered
        assert await claim_events(conn, "test-consumer", []) == set()

        late = uuid4()
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                assert await claim_events(conn, "test-consumer", [late]) == {late}
                raise RuntimeError("the batch's effects failed")
        # The claim rolled back with the effects: the redelivered batch applies it.
        assert await claim_events(conn, "test-consumer", [late, seen]) == {late}
    claimed = await private_db.fetchval(
        "SELECT count(*) FROM processed_events WHERE consumer = 'test-consumer'")
    assert claimed == 4


# ---- nothing stuck: parking and pruning ----------------------------------------------------


async def _oversized(pool, topic: str, client: UUID, size: int) -> str:
    """One outbox row of `size` bytes. `write_events` claim-checks a payload that large
    (relance.claims), so the row is written as it is, standing for any row too large."""
    async with pool.acquire() as conn, conn.transaction():
        event = ClientUpdated(client_id=client, code=str(client), changed={"note": "x" * size})
        envelope = event.envelope(aggregate_id=client, client_id=client)
        await conn.execute(
            "INSERT INTO outbox (event_id, topic, key, event_type, event)"
            " VALUES ($1, $2, $3, $4, $5::text::json)",
            envelope.event_id, topic, envelope.client_id, envelope.event_type, envelope.model_dump_json())
    return str(envelope.event_id)


async def test_an_event_over_the_message_limit_is_parked_and_everything_after_it_flows(
    stack, private_db, producer
):
    topic = await _new_topic(stack)
    client, other = uuid4(), uuid4()
    before = await _write(private_db, topic, [client], per_client=1)
    too_big = await _oversized(private_db, topic, client, size=1_200_000)
    after = await _write(private_db, topic, [client, other], per_client=3)
    relay = OutboxRelay(private_db, producer, batch_size=2)
    task = asyncio.create_task(relay.run())
    try:
        received = await _consume(stack, topic, len(before | after))
    finally:
        relay.stop()
        await task

    assert {r["event_id"] for r in received} == before | after
    [parked] = await parked_rows(private_db)
    assert str(parked["event_id"]) == too_big
    assert parked["size_bytes"] > 1_000_000 and "message limit" in parked["last_error"]
    assert await private_db.fetchval(
        "SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL") == 0


async def test_a_row_the_broker_itself_refuses_is_parked_after_its_attempts_and_can_be_replayed(
    stack, private_db, producer
):
    topic = await _new_topic(stack)
    client = uuid4()
    refused = await _oversized(private_db, topic, client, size=1_100_000)
    fine = await _write(private_db, topic, [uuid4()], per_client=2)
    # Our own size check off: the producer refuses the record (MessageSizeTooLargeError).
    relay = OutboxRelay(private_db, producer, max_attempts=3, max_message_bytes=10_000_000)
    await relay.relay_once()
    [parked] = await parked_rows(private_db)
    assert str(parked["event_id"]) == refused and parked["attempts"] == 1
    assert "MessageSizeTooLarge" in parked["last_error"]
    assert {r["event_id"] for r in await _consume(stack, topic, 2, timeout=10)} == fine

    # Fixed (the event trimmed), the operator replays it and it goes out.
    await private_db.execute(
        "UPDATE outbox SET event = jsonb_set(event::jsonb, '{payload,changed}', '{\"note\": \"trimmed\"}')"
        " WHERE event_id = $1", parked["event_id"])
    assert await replay_parked(private_db) == 1
    assert await relay.relay_once() == 1
    assert await parked_rows(private_db) == []
    assert refused in {r["event_id"] for r in await _consume(stack, topic, 3, timeout=10)}


async def test_published_rows_and_processed_ids_past_the_retention_are_pruned_in_batches(private_db):
    topic = "test.relay.prune"
    old = await _write(private_db, topic, [uuid4() for _ in range(5)], per_client=1)
    recent = await _write(private_db, topic, [uuid4()], per_client=1)
    unpublished = await _write(private_db, topic, [uuid4()], per_client=1)
    await private_db.execute(
        "UPDATE outbox SET published_at = now() - interval '8 days' WHERE event_id::text = ANY($1)", list(old))
    await private_db.execute("UPDATE outbox SET published_at = now() WHERE event_id::text = ANY($1)",
                             list(recent))
    await private_db.execute(
        "INSERT INTO processed_events (consumer, event_id, processed_at)"
        " VALUES ('t', gen_random_uuid(), now() - interval '8 days'), ('t', gen_random_uuid(), now())")

    relay = OutboxRelay(private_db, producer=None, retention_seconds=7 * 86400, prune_batch=2)
    assert await relay.prune() == 6

    left = {str(r["event_id"]) for r in await private_db.fetch("SELECT event_id FROM outbox")}
    assert left == recent | unpublished
    assert await private_db.fetchval("SELECT count(*) FROM processed_events WHERE consumer = 't'") == 1


def test_relance_outbox_lists_parked_rows_and_replays_them(stack, monkeypatch, capsys):
    from relance_devstack.cli import main

    async def park() -> str:
        conn = await asyncpg.connect(stack.database_url, server_settings={"search_path": "dossier"})
        try:
            client = uuid4()
            event = ClientUpdated(client_id=client, code=str(client), changed={"note": "parked"})
            envelope = event.envelope(aggregate_id=client, client_id=client)
            # Written and parked in one transaction: the session's relay never sees it unparked.
            async with conn.transaction():
                await write_events(conn, [envelope])
                await conn.execute(
                    "UPDATE outbox SET parked_at = now(), attempts = 1, last_error = 'MessageTooLarge: test'"
                    " WHERE event_id = $1", envelope.event_id)
            return await conn.fetchval("SELECT id::text FROM outbox WHERE event_id = $1", envelope.event_id)
        finally:
            await conn.close()

    outbox_id = asyncio.run(park())
    monkeypatch.setenv("DATABASE_URL", stack.database_url)

    assert main(["outbox", "parked"]) == 0
    listed = capsys.readouterr().out
    assert f"dossier\t{outbox_id}\tclient.updated" in listed and "MessageTooLarge: test" in listed
    assert main(["outbox", "replay", "--id", outbox_id]) == 0
    assert "dossier: 1 parked rows put back in line" in capsys.readouterr().out
    assert main(["outbox", "parked"]) == 0
    assert outbox_id not in capsys.readouterr().out


async def test_the_relay_sends_the_trace_context_stored_with_each_row_as_kafka_headers(stack, private_db, producer):
    from opentelemetry.sdk.trace import TracerProvider

    topic = await _new_topic(stack)
    client = uuid4()
    tracer = TracerProvider().get_tracer("test")
    envelopes = [ClientUpdated(client_id=client, code="T", changed={"seq": n}).envelope(
        aggregate_id=client, client_id=client) for n in range(2)]
    with tracer.start_as_current_span("api request") as span:
        async with private_db.acquire() as conn, conn.transaction():
            await write_events(conn, envelopes[:1])
    async with private_db.acquire() as conn, conn.transaction():
        await write_events(conn, envelopes[1:])  # outside any trace
    await private_db.execute("UPDATE outbox SET topic = $1", topic)
    stored = await private_db.fetchval(
        "SELECT trace_context->>'traceparent' FROM outbox WHERE event_id = $1", envelopes[0].event_id)
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert stored.split("-")[1] == trace_id
    assert await private_db.fetchval(
        "SELECT trace_context FROM outbox WHERE event_id = $1", envelopes[1].event_id) is None

    await OutboxRelay(private_db, producer).relay_once()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=stack.kafka_bootstrap_servers,
                                group_id=f"test-{uuid4().hex[:8]}", auto_offset_reset="earliest")
    await consumer.start()
    try:
        messages = []
        deadline = asyncio.get_running_loop().time() + 30
        while len(messages) < 2 and asyncio.get_running_loop().time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                messages += batch
    finally:
        await consumer.stop()
    headers = {json.loads(m.value)["event_id"]: {k: v.decode() for k, v in m.headers} for m in messages}
    traced, untraced = headers[str(envelopes[0].event_id)], headers[str(envelopes[1].event_id)]
    assert traced["traceparent"].split("-")[1] == trace_id  # the consumer continues this trace
    assert traced["event_id"] == str(envelopes[0].event_id)
    assert traced["event_type"] == "client.updated"
    assert "traceparent" not in untraced or untraced["traceparent"].split("-")[1] != trace_id
    assert untraced["event_id"] == str(envelopes[1].event_id)


async def test_with_tracing_on_each_message_carries_its_own_publish_span_under_the_writes_trace(
    stack, private_db, producer, monkeypatch
):
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import relance.outbox

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(relance.outbox, "tracer", lambda: provider.get_tracer("relance"))
    topic = await _new_topic(stack)
    client = uuid4()
    envelopes = [ClientUpdated(client_id=client, code="T", changed={"seq": n}).envelope(
        aggregate_id=client, client_id=client) for n in range(3)]
    with provider.get_tracer("test").start_as_current_span("api request") as request:
        async with private_db.acquire() as conn, conn.transaction():
            await write_events(conn, envelopes)  # one write, one stored trace context
    await private_db.execute("UPDATE outbox SET topic = $1", topic)

    await OutboxRelay(private_db, producer).relay_once()
    received = {}
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=stack.kafka_bootstrap_servers,
                                group_id=f"test-{uuid4().hex[:8]}", auto_offset_reset="earliest")
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while len(received) < 3 and asyncio.get_running_loop().time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                received |= {json.loads(m.value)["event_id"]: dict(m.headers) for m in batch}
    finally:
        await consumer.stop()

    publishes = {s.attributes["messaging.message.id"]: s for s in exporter.get_finished_spans()
                 if s.kind == trace.SpanKind.PRODUCER}
    assert set(publishes) == set(received) == {str(e.event_id) for e in envelopes}
    request_context = request.get_span_context()
    for event_id, headers in received.items():
        span = publishes[event_id]
        assert span.name == f"{topic} publish"
        assert span.parent is not None and span.parent.span_id == request_context.span_id
        _, trace_id, span_id, _ = headers["traceparent"].decode().split("-")
        assert trace_id == format(request_context.trace_id, "032x")
        assert span_id == format(span.context.span_id, "016x")  # the consumer continues this span
    assert len({s.context.span_id for s in publishes.values()}) == 3
