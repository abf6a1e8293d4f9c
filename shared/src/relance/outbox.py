"""Transactional outbox and its relay.

A state change and the events it causes are written in one transaction
(`write_events`). The relay claims unpublished rows with FOR UPDATE SKIP LOCKED and
marks them published in the same statement, publishes them to Kafka keyed by client id,
and commits once the broker has acknowledged them (a refused row is put back first). It
never polls by `id > last_seen`: sequence values become visible out of commit order, and
such a cursor skips rows. It wakes on LISTEN/NOTIFY for its own schema
(a trigger notifies on insert) and also polls slowly in case a notification is missed.
A batch is handed to the producer whole and its acknowledgements awaited together; a few
batches are in flight at once, handed over in the order they were claimed (id order) while
the earlier ones wait for the broker and commit.

The relay never blocks behind one row: a row the broker refuses for itself (too large, or
refused `max_attempts` times while the rows around it went out) is parked with
its error (at once when the refusal is for the row itself, such as its size), counted and
alerted on, and the rest flows; `relance outbox replay` puts it
back. An outage (every row of a batch failing on a retriable error) parks nothing: the
claim rolls back and the relay waits. Published rows are pruned after `retention`."""

import asyncio
import collections
import contextlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.producer.message_accumulator import BatchBuilder
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from prometheus_client import Counter, Gauge, Histogram

from relance.claims import INLINE_LIMIT_BYTES, claim_if_large
from relance.events import EventEnvelope, EventPayload
from relance.kafka import KeyHashPartitioner
from relance.observability import context_from, current_trace_context, tracer
from relance.retry import poll_loop

log = structlog.get_logger(__name__)

NOTIFY_CHANNEL = "relance_outbox"

OUTBOX_PUBLISHED = Counter(
    "relance_outbox_published_total", "Outbox events published to Kafka", ["topic"]
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "relance_outbox_publish_failures_total", "Outbox batches that failed to publish"
)
OUTBOX_PENDING = Gauge(
    "relance_outbox_pending", "Outbox events not yet published", ["schema"]
)
OUTBOX_PARKED = Counter(
    "relance_outbox_parked_total", "Outbox rows parked after the broker kept refusing them", ["topic"]
)
OUTBOX_PARKED_NOW = Gauge(
    "relance_outbox_parked_rows", "Outbox rows parked and not yet replayed", ["schema"]
)
OUTBOX_PRUNED = Counter(
    "relance_outbox_pruned_total", "Published outbox rows and processed-event ids pruned", ["table"]
)
# Under the broker's default 1 MiB message limit, with room for the record's framing.
MAX_MESSAGE_BYTES = 1_000_000
OUTBOX_LAG = Histogram(
    "relance_outbox_lag_seconds",
    "Time from outbox insert to publish",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


async def write_events(conn: asyncpg.Connection, events: Iterable[EventEnvelope]) -> None:
    """Append events to the outbox. Call inside the transaction of the state change."""
    # The W3C trace context of the change (an API request, an activity): the relay sends it
    # as the message's headers, so the consumers continue the same trace.
    carrier = current_trace_context()
    trace_context = json.dumps(carrier) if carrier else None
    rows, claimed = [], []
    for event in events:
        serialized = event.model_dump_json()
        # An event too large for a message travels as a claim check (relance.claims). Its
        # payload is smaller than the whole envelope, so an envelope under the limit is
        # published as it is without serialising its payload a second time.
        if len(serialized.encode()) > INLINE_LIMIT_BYTES:
            published, large_payload = claim_if_large(event)
            if large_payload is not None:
                claimed.append((event.event_id, large_payload.decode()))
                serialized = published.model_dump_json()
        rows.append((event.event_id, event.topic, event.client_id, event.event_type, serialized))
    if claimed:
        await conn.executemany(
            "INSERT INTO event_payloads (event_id, payload) VALUES ($1, $2)", claimed)
    if rows:
        # One statement for the whole write (arrays, unnested in their order so the ids
        # follow it): a statement per row cost a round of parsing, planning and the insert
        # trigger for each event of a large write.
        event_ids, topics, keys, event_types, bodies = zip(*rows, strict=True)
        await conn.execute(
            "INSERT INTO outbox (event_id, topic, key, event_type, event, trace_context)"
            " SELECT e.event_id, e.topic, e.key, e.event_type, e.event::json, $6::text::jsonb"
            " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])"
            " WITH ORDINALITY AS e(event_id, topic, key, event_type, event, position)"
            " ORDER BY e.position",
            event_ids, topics, keys, event_types, bodies, trace_context,
        )



async def write_events_from_rows(
    conn: asyncpg.Connection, model: type[EventPayload], source_sql: str, payload_sql: str, *,
    aggregate_sql: str, client_sql: str, actor: str, args: tuple = (),
    occurred_at: datetime | None = None,
) -> int:
    """One event per row of `FROM {source_sql}`, its envelope built in SQL with the fields
    of `EventEnvelope` (the type, the version and the topic come from the payload model,
    so there is one source of truth): a change of many rows (an import, a mass
    assignment) writes its events without building one Python object each. `payload_sql`
    is a jsonb expression with the model's fields; `args` are its `$6`, `$7`, ….
    Returns how many were written. Call inside the transaction of the change."""
    # The change's trace context (an API request's), as `write_events` stores it.
    carrier = current_trace_context()
    trace_context = f"${6 + len(args)}::text::jsonb"
    moment = (occurred_at or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    status = await conn.execute(
        f"""
        INSERT INTO outbox (event_id, topic, key, event_type, event, trace_context)
        SELECT e.event_id, $1, e.client_key, $2, json_build_object(
            'event_id', e.event_id, 'event_type', $2::text, 'schema_version', $3::int,
            'occurred_at', $4::text, 'aggregate_id', e.aggregate_key,
            'client_id', e.client_key, 'actor', $5::text, 'payload', e.payload),
            {trace_context}
        FROM (
            SELECT gen_random_uuid() AS event_id, ({client_sql})::text AS client_key,
                   ({aggregate_sql})::text AS aggregate_key, {payload_sql} AS payload
            FROM {source_sql}
        ) e
        ORDER BY e.client_key
        """,
        model.topic, model.event_type, model.schema_version, moment, actor,
        *args, json.dumps(carrier) if carrier else None,
    )
    return int(status.split()[-1])

class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 500,
        idle_poll_seconds: float = 1.0,
        schema: str = "",
        max_attempts: int = 5,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        retention_seconds: float = 7 * 24 * 3600,
        prune_every_seconds: float = 60.0,
        prune_batch: int = 1000,
        batches_in_flight: int = 3,
    ) -> None:
        self._pool = pool
        self._schema = schema
        self._max_attempts = max_attempts
        self._max_message_bytes = max_message_bytes
        self._retention_seconds = retention_seconds
        self._prune_every_seconds = prune_every_seconds
        self._prune_batch = prune_batch
        self._producer = producer
        self._batch_size = batch_size
        self._idle_poll_seconds = idle_poll_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._claiming = asyncio.Lock()
        # Done once the batch claimed last is with the producer.
        self._handed_over: asyncio.Future[None] | None = None
        # Claim loops of run(), each with its own transaction (and pooled connection).
        self._batches_in_flight = max(1, batches_in_flight)

    async def relay_once(self) -> int:
        """Publish one batch; returns how many events went out."""
        async with self._pool.acquire() as conn, conn.transaction():
            # Batches are claimed one at a time, then handed to the producer in the order
            # they were claimed (after the batch claimed before), so a later batch is never
            # sent ahead of an earlier one; the wait for the acknowledgements, the marking
            # and the next claim overlap the hand-over of the batches in between.
            async with self._claiming:
                # Claimed and marked published in one statement (a row lock, then an
                # update, cost the database a quarter more per row): the mark only holds if
                # the broker acknowledges, since the transaction commits after that; a
                # row it refused is put back below, an outage rolls the whole claim back.
                # `now()` is the claim's time, as the separate mark's was.
                rows = sorted(await conn.fetch(
                    "UPDATE outbox SET published_at = now() WHERE id = ANY(ARRAY("
                    " SELECT id FROM outbox WHERE published_at IS NULL AND parked_at IS NULL"
                    " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED))"
                    " RETURNING id, event_id, topic, key, event_type, event::text AS event,"
                    " attempts, trace_context::text AS trace_context,"
                    " extract(epoch FROM now() - created_at) AS age",
                    self._batch_size,
                ), key=lambda r: r["id"])
                if not rows:
                    return 0
                previous = self._handed_over
                self._handed_over = mine = asyncio.get_running_loop().create_future()
            try:
                if previous is not None and not previous.done():
                    await asyncio.shield(previous)  # not cancelled with this claim
                handed = await self._hand_over(rows)
            finally:
                mine.set_result(None)
            outcomes = await _acknowledged(handed)
            sent = [r for r, error in zip(rows, outcomes, strict=True) if error is None]
            failed = [(r, error) for r, error in zip(rows, outcomes, strict=True) if error is not None]
            if failed and not sent and all(_retriable(e) for _, e in failed):
                # An outage, not a bad row: roll the claim back and let run() back off.
                raise failed[0][1]
            for row, error in failed:
                await self._record_failure(conn, row, error)
        for topic, count in collections.Counter(r["topic"] for r in sent).items():
            OUTBOX_PUBLISHED.labels(topic).inc(count)
        for r in sent:
            OUTBOX_LAG.observe(float(r["age"]))
        return len(rows)

    async def _hand_over(self, rows: list[asyncpg.Record]) -> list[BaseException | asyncio.Future]:
        """Give the whole batch to the producer without waiting for the broker, as record
        batches built per partition (`_PartitionBatches`), in the rows' order within each
        partition. Returns each row's delivery future (its record batch's), or its error."""
        outcomes: list[BaseException | _Slot] = []
        batches = _PartitionBatches(self._producer)
        publisher = tracer()
        # The rows of one write share its trace context: parsed once per batch, with the
        # headers it gives.
        parents: dict[str | None, tuple[otel_context.Context, trace.SpanContext, list[tuple[str, bytes]]]] = {}
        for r in rows:
            value = r["event"].encode()
            if len(value) > self._max_message_bytes:
                outcomes.append(MessageTooLarge(len(value), self._max_message_bytes))
                continue
            stored = r["trace_context"]
            known = parents.get(stored)
            if known is None:
                context = context_from(json.loads(stored) if stored else None)
                known = parents[stored] = (
                    context, trace.get_current_span(context).get_span_context(), trace_headers(context))
            parent, parent_span, parent_headers = known
            event_id = str(r["event_id"])
            # A span per message, so each consumer continues the trace of its own event; not
            # made current (nothing runs under it), only put in the context its headers carry.
            span = publisher.start_span(
                f"{r['topic']} publish", context=parent, kind=trace.SpanKind.PRODUCER,
                attributes={"messaging.system": "kafka", "messaging.destination.name": r["topic"],
                            "messaging.message.id": event_id, "relance.event_type": r["event_type"],
                            "relance.outbox.schema": self._schema},
            )
            try:
                # With tracing off the span is its parent's context again: the same headers.
                context_headers = (
                    parent_headers if span.get_span_context() == parent_span
                    else trace_headers(trace.set_span_in_context(span, parent))
                )
                headers = [("event_id", event_id.encode()), ("event_type", r["event_type"].encode()),
                           *context_headers]
                outcomes.append(await batches.add(r["topic"], r["key"].encode(), value, headers))
            except Exception as exc:  # noqa: BLE001 - the row's own error, recorded below
                outcomes.append(exc)
            finally:
                span.end()
        await batches.send_all()
        return [o if isinstance(o, BaseException) else o.outcome() for o in outcomes]

    async def _record_failure(self, conn: asyncpg.Connection, row: asyncpg.Record, error: BaseException) -> None:
        attempts = row["attempts"] + 1
        # A refusal for the row itself (too large, invalid) will not change on a retry.
        park = not _retriable(error) or attempts >= self._max_attempts
        await conn.execute(
            "UPDATE outbox SET published_at = NULL, attempts = $2, last_error = $3,"
            " parked_at = CASE WHEN $4 THEN now() END WHERE id = $1",
            row["id"], attempts, _describe(error)[:2000], park,
        )
        if park:
            OUTBOX_PARKED.labels(row["topic"]).inc()
            log.error("outbox.parked", outbox_id=row["id"], topic=row["topic"], attempts=attempts,
                      error=_describe(error), schema=self._schema)
        else:
            log.warning("outbox.row_refused", outbox_id=row["id"], topic=row["topic"],
                        attempts=attempts, error=_describe(error), schema=self._schema)

    async def prune(self) -> int:
        """Delete, in small batches, published rows and processed-event ids older than the
        retention, so both tables stay flat under steady load; returns how many went."""
        removed = 0
        tables = [
            ("outbox", "published_at < now() - make_interval(secs => $1)"),
            ("processed_events", "processed_at < now() - make_interval(secs => $1)"),
        ]
        if await self._pool.fetchval("SELECT to_regclass('event_payloads') IS NOT NULL"):
            # Claim-checked payloads (relance.claims): kept as long as their outbox rows.
            tables.append(("event_payloads", "created_at < now() - make_interval(secs => $1)"))
        for table, condition in tables:
            while True:
                status = await self._pool.execute(
                    f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("
                    f"SELECT ctid FROM {table} WHERE {condition} LIMIT $2))",
                    self._retention_seconds, self._prune_batch,
                )
                count = int(status.split()[-1])
                removed += count
                if count:
                    OUTBOX_PRUNED.labels(table).inc(count)
                if count < self._prune_batch or self._stopping:
                    break
        return removed

    async def _listen(self) -> None:
        def wake(_conn: object, _pid: object, _channel: object, schema: str) -> None:
            # Each outbox's trigger names its schema; an empty name is from before that.
            if not self._schema or schema in ("", self._schema):
                self._wake.set()

        conn = await self._pool.acquire()
        try:
            await conn.add_listener(NOTIFY_CHANNEL, wake)
            while not self._stopping:
                await asyncio.sleep(3600)
        finally:
            with contextlib.suppress(Exception):
                await conn.remove_listener(NOTIFY_CHANNEL, wake)
            await self._pool.release(conn)

    async def _refresh_pending(self) -> None:
        row = await self._pool.fetchrow(
            "SELECT count(*) FILTER (WHERE parked_at IS NULL) AS pending,"
            " count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked"
            " FROM outbox WHERE published_at IS NULL"
        )
        OUTBOX_PENDING.labels(self._schema).set(row["pending"])
        OUTBOX_PARKED_NOW.labels(self._schema).set(row["parked"])

    async def _prune_periodically(self) -> None:
        while not self._stopping:
            try:
                await self.prune()
            except Exception as exc:  # noqa: BLE001 - pruning waits for the next round
                log.warning("outbox.prune_failed", error=repr(exc), schema=self._schema)
            await asyncio.sleep(self._prune_every_seconds)

    def _publish_failed(self, exc: Exception, retry_in: float) -> None:
        # Nothing is lost: the claim rolled back, the rows stay unpublished.
        OUTBOX_PUBLISH_FAILURES.inc()
        log.warning("outbox.publish_failed", error=repr(exc), retry_in=retry_in)

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen())
        pruner = asyncio.create_task(self._prune_periodically())
        try:
            # While a batch waits for the broker and is marked published, the next ones are
            # claimed and handed over (relay_once keeps the batches in order).
            await asyncio.gather(*(
                poll_loop(
                    self.relay_once, wake=self._wake, idle_seconds=self._idle_poll_seconds,
                    on_error=self._publish_failed,
                    on_idle=self._refresh_pending if loop == 0 else None,
                    stopping=lambda: self._stopping,
                )
                for loop in range(self._batches_in_flight)
            ))
        finally:
            for task in (listener, pruner):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()


# A message over this size goes through the producer's own `send`, alone in its record
# batch (and refused by the producer for itself when it is over the request limit), so a
# refusal of its size never takes the rows beside it along.
ALONE_ABOVE_BYTES = 16_384


class _Slot:
    """Where one row rides: its record batch's delivery future once the batch is with the
    producer, or the error that kept the batch from it."""

    __slots__ = ("future", "error")

    def __init__(self) -> None:
        self.future: asyncio.Future | None = None
        self.error: BaseException | None = None

    def outcome(self) -> BaseException | asyncio.Future:
        if self.future is not None:
            return self.future
        return self.error or RuntimeError("record batch never handed to the producer")


class _PartitionBatches:
    """The messages of one hand-over gathered per partition (the platform's key hash, as
    `new_producer`'s partitioner) into record batches that go to the producer whole: one
    delivery future per batch instead of one per message, which was most of the relay's
    CPU per event. A partition's batches and lone messages go out in the rows' order."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._open: dict[tuple[str, int], tuple[BatchBuilder, _Slot]] = {}
        self._partitions: dict[str, list[int]] = {}
        self._partitioner = KeyHashPartitioner()

    async def add(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> _Slot:
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = self._partitions[topic] = sorted(await self._producer.partitions_for(topic))
        tp = (topic, self._partitioner(key, partitions, partitions))
        if len(value) > ALONE_ABOVE_BYTES:
            await self._send(tp)  # what came before it in its partition goes first
            slot = _Slot()
            slot.future = await self._producer.send(topic, value=value, key=key, partition=tp[1],
                                                    headers=headers)
            return slot
        while True:
            opened = self._open.get(tp)
            if opened is None:
                opened = self._open[tp] = (self._producer.create_batch(), _Slot())
            builder, slot = opened
            if builder.append(timestamp=None, key=key, value=value, headers=headers) is not None:
                return slot
            await self._send(tp)  # full: it goes, and the message opens the next one

    async def send_all(self) -> None:
        for tp in list(self._open):
            await self._send(tp)

    async def _send(self, tp: tuple[str, int]) -> None:
        opened = self._open.pop(tp, None)
        if opened is None:
            return
        builder, slot = opened
        builder.close()
        try:
            slot.future = await self._producer.send_batch(builder, tp[0], partition=tp[1])
        except Exception as exc:  # noqa: BLE001 - every row of the batch gets it, recorded
            slot.error = exc


def trace_headers(context: otel_context.Context | None = None) -> list[tuple[str, bytes]]:
    """The W3C trace context (`traceparent`, `tracestate`) of the span in `context` (the
    relay's publish span; else the current span) as Kafka headers. A message's headers are
    its event's id and type, then these."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context)
    return [(k, v.encode()) for k, v in carrier.items()]


class MessageTooLarge(Exception):
    """An event bigger than the broker takes: parked at once, never sent."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"event of {size} bytes is over the {limit}-byte message limit")


async def _acknowledged(handed: list[BaseException | asyncio.Future]) -> list[BaseException | None]:
    """Wait for the broker on every future of a batch at once (rows of one record batch
    share theirs): each row's error, or None once the broker acknowledged it."""
    pending = list(dict.fromkeys(o for o in handed if isinstance(o, asyncio.Future)))
    results = dict(zip(pending, await asyncio.gather(*pending, return_exceptions=True), strict=True))
    errors: list[BaseException | None] = []
    for outcome in handed:
        if isinstance(outcome, asyncio.Future):
            result = results[outcome]
            errors.append(result if isinstance(result, BaseException) else None)
        else:
            errors.append(outcome)
    return errors


def _retriable(error: BaseException) -> bool:
    """Worth sending again as it is: the broker or the network, not the row."""
    if isinstance(error, MessageTooLarge):
        return False
    if isinstance(error, KafkaError):
        return bool(error.retriable)
    return isinstance(error, (OSError, asyncio.TimeoutError))


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


async def parked_rows(pool: asyncpg.Pool, limit: int = 100) -> list[asyncpg.Record]:
    """The parked rows of the pool's outbox, oldest first, with their error."""
    return await pool.fetch(
        "SELECT id, event_id, topic, event_type, attempts, last_error, parked_at,"
        " octet_length(event::text) AS size_bytes FROM outbox"
        " WHERE published_at IS NULL AND parked_at IS NOT NULL ORDER BY id LIMIT $1",
        limit,
    )


async def replay_parked(pool: asyncpg.Pool, ids: list[int] | None = None) -> int:
    """Put parked rows back in line (all of them when `ids` is None); returns how many."""
    status = await pool.execute(
        "UPDATE outbox SET parked_at = NULL, attempts = 0"
        " WHERE published_at IS NULL AND parked_at IS NOT NULL"
        " AND ($1::bigint[] IS NULL OR id = ANY($1::bigint[]))",
        ids,
    )
    return int(status.split()[-1])
