"""Transactional outbox and its relay.

A state change and the events it causes are written in one transaction
(`write_events`). The relay claims unpublished rows with FOR UPDATE SKIP LOCKED,
publishes them to Kafka keyed by client id, and marks them published in the same
transaction as the claim. It never polls by `id > last_seen`: sequence values become
visible out of commit order, and such a cursor skips rows. It wakes on LISTEN/NOTIFY
(a trigger notifies on insert) and also polls slowly in case a notification is missed."""

import asyncio
import contextlib
from collections.abc import Iterable

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from prometheus_client import Counter, Gauge, Histogram

from relance.events import EventEnvelope

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
OUTBOX_LAG = Histogram(
    "relance_outbox_lag_seconds",
    "Time from outbox insert to publish",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


async def write_events(conn: asyncpg.Connection, events: Iterable[EventEnvelope]) -> None:
    """Append events to the outbox. Call inside the transaction of the state change."""
    rows = [
        (e.event_id, e.topic, e.client_id, e.event_type, e.model_dump_json())
        for e in events
    ]
    if rows:
        await conn.executemany(
            "INSERT INTO outbox (event_id, topic, key, event_type, event)"
            " VALUES ($1, $2, $3, $4, $5::text::jsonb)",
            rows,
        )


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 500,
        idle_poll_seconds: float = 1.0,
        schema: str = "",
    ) -> None:
        self._pool = pool
        self._schema = schema
        self._producer = producer
        self._batch_size = batch_size
        self._idle_poll_seconds = idle_poll_seconds
        self._wake = asyncio.Event()
        self._stopping = False

    async def relay_once(self) -> int:
        """Publish one batch; returns how many events went out."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, topic, key, event::text AS event,"
                " extract(epoch FROM now() - created_at) AS age"
                " FROM outbox WHERE published_at IS NULL"
                " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                self._batch_size,
            )
            if not rows:
                return 0
            # Send the whole batch, then wait: per-partition order is kept by the producer.
            futures = [
                await self._producer.send(
                    r["topic"], value=r["event"].encode(), key=r["key"].encode()
                )
                for r in rows
            ]
            await asyncio.gather(*futures)
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                [r["id"] for r in rows],
            )
        for r in rows:
            OUTBOX_PUBLISHED.labels(r["topic"]).inc()
            OUTBOX_LAG.observe(float(r["age"]))
        return len(rows)

    async def _listen(self) -> None:
        def wake(*_: object) -> None:
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
        OUTBOX_PENDING.labels(self._schema).set(
            await self._pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        )

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen())
        backoff = 0.5
        try:
            while not self._stopping:
                try:
                    published = await self.relay_once()
                    backoff = 0.5
                except (OSError, asyncpg.PostgresError, Exception) as exc:  # noqa: BLE001
                    # Nothing is lost: the claim rolled back, the rows stay unpublished.
                    OUTBOX_PUBLISH_FAILURES.inc()
                    log.warning("outbox.publish_failed", error=repr(exc), retry_in=backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                if published:
                    continue
                with contextlib.suppress(Exception):
                    await self._refresh_pending()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle_poll_seconds)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
