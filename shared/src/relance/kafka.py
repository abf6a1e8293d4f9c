"""Kafka helpers: explicit topic creation and a producer configured for the outbox.

The embedded broker has no idempotent producer, so none is asked for; consumers
deduplicate on the event id instead."""

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner, murmur2
from faststream import AckPolicy, BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

from relance.events import EventEnvelope
from relance.lanes import consume_in_lanes
from relance.topics import ALL_TOPICS, DEFAULT_PARTITIONS

if TYPE_CHECKING:
    from relance.dead_letters import DeadLetters

# How long a batch fetch waits for a first record before it returns an empty batch.
BATCH_TIMEOUT_MS = 100


async def ensure_topics(
    bootstrap_servers: str,
    topics: tuple[str, ...] = ALL_TOPICS,
    partitions: int = DEFAULT_PARTITIONS,
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing]
                )
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


# How every producer of the platform delivers: acknowledged by all in-sync replicas, in
# batches lingering 2 ms. The bench's raw baseline sends with the same settings.
PRODUCER_SETTINGS: dict[str, object] = {"acks": "all", "enable_idempotence": False, "linger_ms": 2}


@functools.lru_cache(maxsize=100_000)
def _key_hash(key: bytes) -> int:
    return murmur2(key)


class KeyHashPartitioner(DefaultPartitioner):
    """The default partitioner's mapping (murmur2 of the key, as the Java client), with each
    key's hash remembered: the keys are client ids, few against the events, and the pure
    Python hash took a fifth of the relay's time per event in a profile."""

    @classmethod
    def __call__(cls, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return super().__call__(key, all_partitions, available)
        return all_partitions[(_key_hash(key) & 0x7FFFFFFF) % len(all_partitions)]


def new_producer(bootstrap_servers: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, partitioner=KeyHashPartitioner(), **PRODUCER_SETTINGS)


async def wait_for_broker(bootstrap_servers: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)
        finally:
            await admin.close()


def service_broker(
    bootstrap_servers: str, service_name: str, graceful_timeout: float = 10.0
) -> KafkaBroker:
    """A FastStream Kafka broker for one of our consumers. FastStream's per-message lines
    go to DEBUG: our own structured logs carry the event ids."""
    return KafkaBroker(
        bootstrap_servers,
        graceful_timeout=graceful_timeout,
        client_id=f"relance-{service_name}",
        logger=logging.getLogger(f"relance.{service_name}.faststream"),
        log_level=logging.DEBUG,
        # The consumer's span continues the trace the relay sent in the message's headers
        # (`traceparent`), and each log line of the handling carries the event's id.
        middlewares=(KafkaTelemetryMiddleware(), EventLogContext),
    )


class EventLogContext(BaseMiddleware):
    """Bind the event id and type of the message in hand (the relay's headers) to every log
    line written while it is handled."""

    async def consume_scope(self, call_next, msg):
        headers = msg.headers or {}
        bound = {key: _text(headers[key]) for key in ("event_id", "event_type") if key in headers}
        with structlog.contextvars.bound_contextvars(**bound):
            return await call_next(msg)


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def at_least_once(group_id: str) -> dict:
    """Subscriber options for consumers with side effects: acknowledge after processing
    (a failure leaves the message to be delivered again), start from the earliest offset
    for a new group. Consumers deduplicate on the event id."""
    return {"group_id": group_id, "ack_policy": AckPolicy.NACK_ON_ERROR, "auto_offset_reset": "earliest"}


def subscribe_in_lanes(
    broker: KafkaBroker,
    *topics: str,
    group_id: str,
    batch_size: int,
    concurrency: int,
    dead_letters: "DeadLetters",
    handle: Callable[[EventEnvelope], Awaitable[None]],
) -> None:
    """A batch subscriber whose records are handled in lanes (relance.lanes): up to
    `batch_size` records per fetch, a client's records in order, up to `concurrency`
    clients at once, a record that keeps failing parked in `dead_letters`, and the batch
    acknowledged once every record in it was handled (at least once: the handlers
    deduplicate on the event id)."""

    # FastStream reads the parameter's annotation to hand over the message itself: this
    # module keeps its annotations evaluated (no postponed annotations) for that reason.
    @broker.subscriber(*topics, batch=True, max_records=batch_size,
                       batch_timeout_ms=BATCH_TIMEOUT_MS, **at_least_once(group_id))
    async def on_batch(message: KafkaMessage) -> None:
        await consume_in_lanes(message.raw_message, dead_letters, handle, concurrency=concurrency)


async def run_broker(broker: KafkaBroker, service_name: str) -> None:
    """Consume until cancelled (the service's background task); stopping waits for the
    message in hand (the broker's graceful timeout)."""
    await broker.start()
    structlog.get_logger(__name__).info(f"{service_name}.consuming")
    try:
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await broker.stop()
