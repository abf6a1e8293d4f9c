"""(a) Events/s through outbox → relay → broker → consumer, against raw aiokafka
produce → consume of the same payloads on the same broker, in the same run.

Baseline: one producer sends the N serialized envelopes (key = client id) to a fresh
topic while one consumer reads them back and only counts them.

Pipeline: the N envelopes are written to the outbox (`write_events`, one transaction per
chunk) while an `OutboxRelay` publishes them and a consumer does what a real one does:
per poll, parse every message into an `EventEnvelope` and claim the batch's ids with
`claim_events` (one statement) in one transaction, then commit the offsets.

Both clocks start when the first payload is handed over (to the producer, or to the
outbox writer) with the consumer already subscribed and assigned, and stop when the
consumer has seen all N distinct event ids. Building the envelopes is not timed; the
baseline's payloads are serialized before its clock starts, the pipeline serializes
inside `write_events` as the platform does."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from bench.report import Comparison, Throughput
from relance.consumer import claim_events
from relance.db import create_pool
from relance.events import EventEnvelope, ItemCreated
from relance.kafka import ensure_topics, new_producer
from relance.outbox import OutboxRelay, write_events
from relance.topics import ITEM_EVENTS

CONSUMER_NAME = "bench"
WRITE_CHUNK = 500
DRAIN_SECONDS = 1.0  # after the last expected event, keep reading to catch duplicates


@dataclass
class Tally:
    """What a consumer saw: distinct event ids and repeats."""

    expected: int
    seen: set[str] = field(default_factory=set)
    duplicates: int = 0
    claim_refusals: int = 0  # claim_events said "already processed"
    done: asyncio.Event = field(default_factory=asyncio.Event)
    finished_at: float | None = None

    def add(self, event_id: str) -> None:
        if event_id in self.seen:
            self.duplicates += 1
            return
        self.seen.add(event_id)
        if len(self.seen) >= self.expected and not self.done.is_set():
            self.finished_at = time.perf_counter()
            self.done.set()


@dataclass
class Run:
    seconds: float
    tally: Tally
    details: dict = field(default_factory=dict)


def build_envelopes(count: int, clients: int) -> list[EventEnvelope]:
    """`count` ItemCreated envelopes spread over `clients` client ids (each its own key)."""
    client_ids = [uuid.uuid4() for _ in range(max(1, clients))]
    dossier_ids = {c: uuid.uuid4() for c in client_ids}
    base_due = date.today() - timedelta(days=30)
    envelopes = []
    for i in range(count):
        client_id = client_ids[i % len(client_ids)]
        item_id = uuid.uuid4()
        amount = Decimal(100 + i % 900) + Decimal("0.50")
        envelopes.append(
            ItemCreated(
                item_id=item_id,
                client_id=client_id,
                dossier_id=dossier_ids[client_id],
                number=f"BENCH-{i:07d}",
                kind="invoice",
                due_date=base_due + timedelta(days=i % 60),
                amount=amount,
                open_amount=amount,
                currency="EUR",
            ).envelope(aggregate_id=item_id, client_id=client_id)
        )
    return envelopes


async def _subscribed_consumer(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    """A started group consumer that already holds its partitions, so the clock measures
    the flow of events and not the group join (a few seconds on the embedded broker).
    Offsets are committed by hand, after processing, as a consumer with effects does."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + 30
        while not consumer.assignment():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no partition of {topic} assigned within 30s")
            batch = await consumer.getmany(timeout_ms=100)
            if any(batch.values()):
                raise RuntimeError(f"topic {topic} is not empty before the benchmark")
    except BaseException:
        await consumer.stop()
        raise
    return consumer


async def _consume(
    consumer: AIOKafkaConsumer,
    handle: Callable[[list[ConsumerRecord]], Awaitable[None]],
    stop: asyncio.Event,
) -> None:
    while not stop.is_set():
        batches = await consumer.getmany(timeout_ms=100)
        records = [r for rs in batches.values() for r in rs]
        if records:
            await handle(records)


async def _finish(
    consume_task: asyncio.Task, tally: Tally, stop: asyncio.Event, timeout: float, what: str
) -> None:
    """Wait until the tally is complete (or the consumer died), drain, then stop."""
    done_wait = asyncio.create_task(tally.done.wait())
    try:
        finished, _ = await asyncio.wait(
            {done_wait, consume_task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if consume_task in finished:
            consume_task.result()  # raises the consumer's error
        if not tally.done.is_set():
            raise TimeoutError(
                f"{what}: {len(tally.seen):,}/{tally.expected:,} events after {timeout:.0f}s"
            )
        await asyncio.sleep(DRAIN_SECONDS)
    finally:
        done_wait.cancel()
        stop.set()
        await asyncio.gather(consume_task, return_exceptions=True)


async def run_baseline(bootstrap: str, envelopes: list[EventEnvelope], timeout: float) -> Run:
    topic = f"bench.raw.{uuid.uuid4().hex[:12]}"
    await ensure_topics(bootstrap, topics=(topic,))
    payloads = [(e.model_dump_json().encode(), e.client_id.encode()) for e in envelopes]
    tally = Tally(expected=len(payloads))

    async def count(records: list[ConsumerRecord]) -> None:
        # Just counting, no parsing: a message is known by its partition and offset.
        for r in records:
            tally.add(f"{r.partition}:{r.offset}")

    consumer = await _subscribed_consumer(bootstrap, topic)
    producer = new_producer(bootstrap)
    await producer.start()
    stop = asyncio.Event()
    try:
        consume_task = asyncio.create_task(_consume(consumer, count, stop))
        started = time.perf_counter()
        futures = [await producer.send(topic, value=v, key=k) for v, k in payloads]
        await asyncio.gather(*futures)
        produced_at = time.perf_counter()
        await _finish(consume_task, tally, stop, timeout, "raw aiokafka")
    finally:
        await producer.stop()
        await consumer.stop()
    assert tally.finished_at is not None
    return Run(
        seconds=tally.finished_at - started,
        tally=tally,
        details={"topic": topic, "produce_seconds": round(produced_at - started, 4)},
    )


async def run_pipeline(
    bootstrap: str, database_url: str, envelopes: list[EventEnvelope], timeout: float
) -> Run:
    topics = {e.topic for e in envelopes}
    if topics != {ITEM_EVENTS}:
        raise ValueError(f"the pipeline bench reads {ITEM_EVENTS}, envelopes go to {topics}")
    pool = await create_pool(database_url, schema="dossier", min_size=4, max_size=10)
    try:
        pending = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        if pending:
            raise RuntimeError(f"the outbox already holds {pending} unpublished events")
        tally = Tally(expected=len(envelopes))

        async def process(records: list[ConsumerRecord]) -> None:
            parsed = [EventEnvelope.model_validate_json(r.value) for r in records]
            async with pool.acquire() as conn, conn.transaction():
                new = await claim_events(conn, CONSUMER_NAME, [e.event_id for e in parsed])
            tally.claim_refusals += len(parsed) - len(new)
            await consumer.commit()
            for envelope in parsed:
                tally.add(str(envelope.event_id))

        consumer = await _subscribed_consumer(bootstrap, ITEM_EVENTS)
        producer = new_producer(bootstrap)
        await producer.start()
        relay = OutboxRelay(pool, producer)
        relay_task = asyncio.create_task(relay.run())
        stop = asyncio.Event()
        try:
            await asyncio.sleep(0.2)  # the relay is listening and idle
            consume_task = asyncio.create_task(_consume(consumer, process, stop))
            started = time.perf_counter()
            for i in range(0, len(envelopes), WRITE_CHUNK):
                async with pool.acquire() as conn, conn.transaction():
                    await write_events(conn, envelopes[i : i + WRITE_CHUNK])
            written_at = time.perf_counter()
            await _finish(consume_task, tally, stop, timeout, "outbox pipeline")
        finally:
            relay.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await relay_task
            await producer.stop()
            await consumer.stop()
        unpublished = await pool.fetchval(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL"
        )
        claimed = await pool.fetchval(
            "SELECT count(*) FROM processed_events WHERE consumer = $1", CONSUMER_NAME
        )
    finally:
        await pool.close()
    assert tally.finished_at is not None
    return Run(
        seconds=tally.finished_at - started,
        tally=tally,
        details={
            "topic": ITEM_EVENTS,
            "write_seconds": round(written_at - started, 4),
            "write_chunk": WRITE_CHUNK,
            "unpublished_after": unpublished,
            "claimed_rows": claimed,
            "claim_refusals": tally.claim_refusals,
        },
    )


async def run(
    bootstrap: str, database_url: str, *, events: int, clients: int = 200, timeout: float | None = None
) -> Comparison:
    """Baseline first, then the pipeline, on the same broker."""
    timeout = timeout if timeout is not None else max(60.0, events / 200)
    envelopes = build_envelopes(events, clients)
    baseline = await run_baseline(bootstrap, envelopes, timeout)
    pipeline = await run_pipeline(bootstrap, database_url, envelopes, timeout)
    return Comparison(
        name="outbox",
        subject=Throughput("outbox pipeline", events, pipeline.seconds, "events"),
        baseline=Throughput("raw aiokafka", events, baseline.seconds, "events"),
        extra={
            "clients": clients,
            "correctness": {
                "expected": events,
                "distinct": len(pipeline.tally.seen),
                "duplicates": pipeline.tally.duplicates,
                "claim_refusals": pipeline.tally.claim_refusals,
                "claimed_rows": pipeline.details["claimed_rows"],
                "unpublished_after": pipeline.details["unpublished_after"],
                "baseline_distinct": len(baseline.tally.seen),
                "baseline_duplicates": baseline.tally.duplicates,
            },
            "pipeline_details": pipeline.details,
            "baseline_details": baseline.details,
        },
    )
