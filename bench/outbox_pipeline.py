"""(a) Events/s through outbox → relay → broker → consumer, against raw aiokafka
produce → consume of the same payloads on the same broker, in the same run.

Baseline: one producer sends the N serialized envelopes (key = client id) to a fresh
topic while one consumer reads them back and only counts them.

Pipeline: the N envelopes are written to the outbox (`write_events`, one transaction per
chunk) while the relay publishes them, in its own process as deployed (`python -m
relance.relay`, started and healthy before the clock), and a consumer does what a real
one does: per poll, parse every message into an `EventEnvelope` and claim the batch's
ids with `claim_events` (one statement) in one transaction, then commit the offsets.

Both clocks start when the first payload is handed over (to the producer, or to the
outbox writer) with the consumer already subscribed and assigned, and stop when the
consumer has seen all N of the run's event ids. Building the envelopes is not timed; the
baseline's payloads are serialized before its clock starts, the pipeline serializes
inside `write_events` as the platform does. The envelopes, built up front and held by
both runs, are kept out of the garbage collector's rounds (`gc.freeze`): no service holds
such a list, and walking it cost the pipeline about a tenth of its CPU."""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from bench.report import Comparison, Throughput
from relance.consumer import claim_events
from relance.db import create_pool
from relance.events import EventEnvelope, ItemCreated
from relance.kafka import PRODUCER_SETTINGS, ensure_topics
from relance.outbox import write_events
from relance.topics import ITEM_EVENTS
from relance_devstack.embedded import free_port
from relance_devstack.supervisor import SERVICES, Supervisor

CONSUMER_NAME = "bench"
WRITE_CHUNK = 500
DRAIN_SECONDS = 1.0  # after the last expected event, keep reading to catch duplicates


@dataclass
class Tally:
    """What a consumer saw of the run's event ids (`expected`, or any `count` of them):
    distinct ids, repeats, and messages of earlier runs on the same topic (not counted)."""

    count: int
    expected: set[str] | None = None
    seen: set[str] = field(default_factory=set)
    duplicates: int = 0
    foreign: int = 0
    claim_refusals: int = 0  # claim_events said "already processed"
    done: asyncio.Event = field(default_factory=asyncio.Event)
    finished_at: float | None = None

    def add(self, event_id: str) -> None:
        if self.expected is not None and event_id not in self.expected:
            self.foreign += 1
            return
        if event_id in self.seen:
            self.duplicates += 1
            return
        self.seen.add(event_id)
        if len(self.seen) >= self.count and not self.done.is_set():
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


async def _subscribed_consumer(bootstrap: str, topic: str, *, from_end: bool = False) -> AIOKafkaConsumer:
    """A started group consumer that already holds its partitions, so the clock measures
    the flow of events and not the group join (a few seconds on the embedded broker).
    Offsets are committed by hand, after processing, as a consumer with effects does."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex}",
        # A fresh topic is read from its start; the platform's topic, which earlier rounds
        # wrote to, from its end as it is once assigned (before the clock starts).
        auto_offset_reset="latest" if from_end else "earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + 30
        while not consumer.assignment():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no partition of {topic} assigned within 30s")
            batch = await consumer.getmany(timeout_ms=100)
            if any(batch.values()) and not from_end:
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
                f"{what}: {len(tally.seen):,}/{tally.count:,} events after {timeout:.0f}s"
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
    tally = Tally(count=len(payloads))

    async def count(records: list[ConsumerRecord]) -> None:
        # Just counting, no parsing: a message is known by its partition and offset.
        for r in records:
            tally.add(f"{r.partition}:{r.offset}")

    consumer = await _subscribed_consumer(bootstrap, topic)
    # Bare aiokafka: its own partitioner, the platform's delivery settings.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_SETTINGS)
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


async def _drained(pool: asyncpg.Pool, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while pending := await pool.fetchval(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the relay left {pending} earlier events unpublished")
        await asyncio.sleep(0.1)


def start_relay(env: dict[str, str], logs_dir: Path) -> Supervisor:
    """The relay process as deployed, on a free port, healthy (listening) on return; its
    log in `logs_dir/outbox-bench` (beside any relay already running on the stack)."""
    supervisor = Supervisor(
        {**env, "LOG_LEVEL": "WARNING"}, logs_dir / "outbox-bench", ports={"relay": free_port()})
    relay = supervisor.start(next(s for s in SERVICES if s.name == "relay"))
    try:
        supervisor.wait_healthy(relay, timeout=60)
    except BaseException:
        supervisor.stop_all()
        raise
    return supervisor


async def run_pipeline(
    bootstrap: str, database_url: str, envelopes: list[EventEnvelope], timeout: float
) -> Run:
    """The envelopes through the outbox, with a relay process already running (`start_relay`)."""
    topics = {e.topic for e in envelopes}
    if topics != {ITEM_EVENTS}:
        raise ValueError(f"the pipeline bench reads {ITEM_EVENTS}, envelopes go to {topics}")
    pool = await create_pool(database_url, schema="dossier", min_size=4, max_size=10)
    try:
        await _drained(pool, timeout)  # what others wrote before goes out before the clock
        expected = {str(e.event_id) for e in envelopes}
        tally = Tally(count=len(envelopes), expected=expected)

        async def process(records: list[ConsumerRecord]) -> None:
            parsed = [EventEnvelope.model_validate_json(r.value) for r in records]
            async with pool.acquire() as conn, conn.transaction():
                new = await claim_events(conn, CONSUMER_NAME, [e.event_id for e in parsed])
            # Refused ids of this run only (an earlier round's message was claimed then);
            # looked up among the refused, mostly none, not among every message.
            refused = {e.event_id for e in parsed}.difference(new)
            tally.claim_refusals += sum(1 for event_id in refused if str(event_id) in expected)
            await consumer.commit()
            for envelope in parsed:
                tally.add(str(envelope.event_id))

        consumer = await _subscribed_consumer(bootstrap, ITEM_EVENTS, from_end=True)
        stop = asyncio.Event()
        try:
            consume_task = asyncio.create_task(_consume(consumer, process, stop))
            started = time.perf_counter()
            for i in range(0, len(envelopes), WRITE_CHUNK):
                async with pool.acquire() as conn, conn.transaction():
                    await write_events(conn, envelopes[i : i + WRITE_CHUNK])
            written_at = time.perf_counter()
            await _finish(consume_task, tally, stop, timeout, "outbox pipeline")
        finally:
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
            "relay": "its own process (python -m relance.relay)",
            "write_seconds": round(written_at - started, 4),
            "write_chunk": WRITE_CHUNK,
            "unpublished_after": unpublished,
            "claimed_rows": claimed,
            "claim_refusals": tally.claim_refusals,
            "earlier_messages_skipped": tally.foreign,
        },
    )


async def run(
    stack: Any, *, events: int, clients: int = 200, rounds: int = 3, timeout: float | None = None
) -> Comparison:
    """`rounds` rounds of (baseline, pipeline) on the same broker of the embedded `stack`,
    each with fresh envelopes; the seconds are the medians over the rounds (one run of a
    second or so is noisy on a small machine), the delivery counters the sums."""
    timeout = timeout if timeout is not None else max(60.0, events / 200)
    baselines: list[Run] = []
    pipelines: list[Run] = []
    relay = await asyncio.to_thread(start_relay, stack.env(), stack.logs_dir)
    try:
        for _ in range(rounds):
            envelopes = build_envelopes(events, clients)
            gc.freeze()  # the runs' input, not theirs to collect (see the module's docstring)
            try:
                baselines.append(await run_baseline(stack.kafka_bootstrap_servers, envelopes, timeout))
                pipelines.append(await run_pipeline(
                    stack.kafka_bootstrap_servers, stack.database_url, envelopes, timeout))
            finally:
                gc.unfreeze()
    finally:
        await asyncio.to_thread(relay.stop_all)
    pipeline_seconds = statistics.median(r.seconds for r in pipelines)
    baseline_seconds = statistics.median(r.seconds for r in baselines)
    return Comparison(
        name="outbox",
        subject=Throughput("outbox pipeline", events, pipeline_seconds, "events"),
        baseline=Throughput("raw aiokafka", events, baseline_seconds, "events"),
        extra={
            "clients": clients,
            "rounds": rounds,
            "correctness": {
                "expected": events * rounds,
                "distinct": sum(len(r.tally.seen) for r in pipelines),
                "duplicates": sum(r.tally.duplicates for r in pipelines),
                "claim_refusals": sum(r.tally.claim_refusals for r in pipelines),
                "unpublished_after": pipelines[-1].details["unpublished_after"],
                "baseline_distinct": sum(len(r.tally.seen) for r in baselines),
                "baseline_duplicates": sum(r.tally.duplicates for r in baselines),
            },
            "rounds_seconds": {"pipeline": [round(r.seconds, 4) for r in pipelines],
                               "baseline": [round(r.seconds, 4) for r in baselines]},
            "pipeline_details": pipelines[-1].details,
            "baseline_details": baselines[-1].details,
        },
    )
