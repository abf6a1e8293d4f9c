"""Poison messages: a consumer retries a failing message a bounded number of times with
backoff, then parks it as a dead letter in its own schema and moves on, so one bad
message never stops a partition (Failure rules).

`DeadLetters.handle(message, handler)` is the one mechanism every subscriber uses:

    @broker.subscriber(TOPIC, **at_least_once(GROUP))
    async def on_message(message: KafkaMessage) -> None:
        await dead_letters.handle(message, handle_envelope)

* A message that does not parse as an event envelope is a dead letter at once.
* A handler error is retried `max_attempts` times with exponential backoff, then the
  message is parked with its error, topic, partition, offset, key and payload (a payload
  that does not validate against its event type, at once).
* An outage (the database or Temporal not answering: `transient`) is not the message's
  fault: it is retried in place, without limit and with capped backoff, and parks nothing.
  Parking itself needs the database: while it cannot be written the message stays in hand.

Dead letters are listed and replayed (re-published to their topic with their key; every
consumer deduplicates on the event id) by the `/operations/dead-letters` routes of each
consuming service and by `relance dead-letters list | replay`."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog
from fastapi import Body, Depends, HTTPException, Request
from prometheus_client import Counter, Gauge
from pydantic import ValidationError

from relance.api.internal import INTERNAL_TOKEN_HEADER
from relance.claims import ClaimInvalid, ClaimResolver
from relance.events import EventEnvelope
from relance.kafka import new_producer

log = structlog.get_logger(__name__)

DEAD_LETTERS = Counter(
    "relance_dead_letters_total",
    "Consumed messages parked as dead letters after their retries (or unreadable)",
    ["service", "topic"],
)
DEAD_LETTERS_WAITING = Gauge(
    "relance_dead_letters_waiting",
    "Dead letters parked and not yet replayed, by consuming service",
    ["service"],
)
CONSUMER_RETRIES = Counter(
    "relance_consumer_retries_total",
    "Consumed messages handled again after a failure, by service and kind (error, outage)",
    ["service", "kind"],
)

Handler = Callable[[EventEnvelope], Awaitable[Any]]


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """The wait after failed attempt number `attempt` (1-based): base, 2·base, … up to cap."""
    return min(cap, base * 2 ** (attempt - 1))


def default_transient(error: BaseException) -> bool:
    """Failures of the infrastructure rather than of the message: retried without limit."""
    return isinstance(
        error,
        (
            OSError,
            TimeoutError,
            asyncio.TimeoutError,
            asyncpg.PostgresConnectionError,
            asyncpg.CannotConnectNowError,
            asyncpg.InterfaceError,
            asyncpg.AdminShutdownError,
        ),
    )


class Unprocessable(Exception):
    """A message that is wrong for good (it names what does not exist, or breaks a rule):
    parked at once with this reason, as a retry would fail the same way."""


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class DeadLetters:
    """One consuming service's dead letters (the `dead_letters` table of its schema)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        service: str,
        *,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 10.0,
        transient: Callable[[BaseException], bool] = default_transient,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        claims: ClaimResolver | None = None,
    ) -> None:
        self.pool = pool
        self.claims = claims
        self.service = service
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.transient = transient
        self._sleep = sleep

    @classmethod
    def from_settings(cls, pool: asyncpg.Pool, settings: Any, **kwargs: Any) -> DeadLetters:
        return cls(
            pool, settings.service_name,
            max_attempts=settings.consumer_max_attempts,
            backoff_base=settings.consumer_retry_base_seconds,
            backoff_max=settings.consumer_retry_max_seconds,
            claims=ClaimResolver.from_settings(settings),
            **kwargs,
        )

    async def handle(self, message: Any, handler: Handler) -> None:
        """Hand one Kafka message (FastStream's KafkaMessage) to `handler` as an envelope;
        returns once it was handled or parked."""
        record = message.raw_message
        body: bytes = message.body if isinstance(message.body, bytes) else bytes(message.body or b"")
        try:
            envelope = EventEnvelope.model_validate_json(body)
        except ValidationError as exc:
            await self.park(record, body, None, f"not an event envelope: {describe(exc)}", 0)
            return
        await self.handle_envelope(envelope, handler, record=record, body=body)

    async def handle_envelope(
        self, envelope: EventEnvelope, handler: Handler, *, record: Any, body: bytes
    ) -> None:
        attempt = 0
        outages = 0
        while True:
            try:
                await handler(await self._with_payload(envelope))
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - retried, then parked with its error
                if self.transient(exc):
                    outages += 1
                    delay = backoff_delay(outages, base=self.backoff_base, cap=self.backoff_max)
                    CONSUMER_RETRIES.labels(self.service, "outage").inc()
                    log.warning("consumer.outage", event_id=str(envelope.event_id),
                                topic=record.topic, error=describe(exc)[:500], retry_in=delay)
                    await self._sleep(delay)
                    continue
                # A payload that does not fit its event type will not fit on a retry either.
                attempt = (self.max_attempts if isinstance(exc, ValidationError | Unprocessable)
                           else attempt + 1)
                if attempt >= self.max_attempts:
                    await self.park(record, body, envelope, describe(exc), attempt)
                    return
                delay = backoff_delay(attempt, base=self.backoff_base, cap=self.backoff_max)
                CONSUMER_RETRIES.labels(self.service, "error").inc()
                log.warning("consumer.retry", event_id=str(envelope.event_id), topic=record.topic,
                            attempt=attempt, error=describe(exc)[:500], retry_in=delay)
                await self._sleep(delay)

    async def _with_payload(self, envelope: EventEnvelope) -> EventEnvelope:
        """The envelope with its payload, read back from its writer when it was too large
        for a message (relance.claims)."""
        if envelope.payload_claim is None:
            return envelope
        if self.claims is None:
            raise ClaimInvalid(f"{self.service} has no way to read a claim-checked payload")
        return await self.claims.resolve(envelope)

    async def park(
        self, record: Any, body: bytes, envelope: EventEnvelope | None, error: str, attempts: int
    ) -> None:
        """Store the message as a dead letter (once per topic, partition, offset and payload). While
        the database cannot be written the message stays in hand, retried with backoff."""
        key = record.key
        if isinstance(key, bytes):
            key = key.decode("utf-8", "replace")
        failures = 0
        while True:
            try:
                inserted = await self.pool.fetchval(
                    "INSERT INTO dead_letters (consumer, topic, partition, \"offset\", key, payload,"
                    " payload_sha256, event_id, event_type, error, attempts)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                    " ON CONFLICT (consumer, topic, partition, \"offset\", payload_sha256)"
                    " DO NOTHING RETURNING true",
                    self.service, record.topic, record.partition, record.offset, key, body,
                    hashlib.sha256(body).hexdigest(), envelope.event_id if envelope else None,
                    envelope.event_type if envelope else None, error[:4000], attempts,
                )
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - never drop: keep the message in hand
                failures += 1
                delay = backoff_delay(failures, base=self.backoff_base, cap=self.backoff_max)
                log.warning("consumer.park_failed", topic=record.topic, error=describe(exc)[:500],
                            retry_in=delay)
                await self._sleep(delay)
        if inserted:
            DEAD_LETTERS.labels(self.service, record.topic).inc()
        log.error("consumer.dead_letter", topic=record.topic, partition=record.partition,
                  offset=record.offset, event_id=str(envelope.event_id) if envelope else None,
                  attempts=attempts, error=error[:500])
        with contextlib.suppress(Exception):
            await self.refresh()

    async def refresh(self) -> int:
        waiting = await waiting_count(self.pool)
        DEAD_LETTERS_WAITING.labels(self.service).set(waiting)
        return waiting

    async def refresh_periodically(self, every_seconds: float = 30.0) -> None:
        """A background task: the waiting gauge follows replays made elsewhere (the CLI)."""
        while True:
            with contextlib.suppress(Exception):
                await self.refresh()
            await asyncio.sleep(every_seconds)


async def waiting_count(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL")


async def list_dead_letters(
    pool: asyncpg.Pool, *, include_replayed: bool = False, limit: int = 100
) -> list[dict]:
    rows = await pool.fetch(
        "SELECT id, consumer, topic, partition, \"offset\", key, event_id, event_type, error,"
        " attempts, created_at, replayed_at, payload FROM dead_letters"
        " WHERE $1 OR replayed_at IS NULL ORDER BY id LIMIT $2",
        include_replayed, limit,
    )
    return [
        {
            **{k: row[k] for k in row.keys() if k not in ("payload", "payload_sha256")},
            "event_id": str(row["event_id"]) if row["event_id"] else None,
            "size_bytes": len(row["payload"]),
            "payload": bytes(row["payload"]).decode("utf-8", "replace")[:10_000],
        }
        for row in rows
    ]


async def replay_dead_letters(pool: asyncpg.Pool, producer: Any, ids: list[int] | None = None) -> int:
    """Re-publish the waiting dead letters (all, or `ids`) to their topic with their key,
    and mark them replayed; returns how many. Consumers deduplicate on the event id, so the
    other consumer groups of the topic change nothing."""
    replayed = 0
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT id, topic, key, payload FROM dead_letters WHERE replayed_at IS NULL"
            " AND ($1::bigint[] IS NULL OR id = ANY($1::bigint[])) ORDER BY id FOR UPDATE SKIP LOCKED",
            ids,
        )
        for row in rows:
            await producer.send_and_wait(
                row["topic"], value=bytes(row["payload"]),
                key=row["key"].encode() if row["key"] is not None else None,
            )
        if rows:
            await conn.execute(
                "UPDATE dead_letters SET replayed_at = now() WHERE id = ANY($1::bigint[])",
                [r["id"] for r in rows],
            )
            replayed = len(rows)
    return replayed


def install_dead_letter_routes(
    app: Any, dead_letters: DeadLetters, bootstrap_servers: str, internal_token: str | None
) -> None:
    """`GET /operations/dead-letters` and `POST /operations/dead-letters/replay` on a
    consuming service's app; guarded by the internal token (X-Internal-Token) when set."""
    async def operator(request: Request) -> None:
        if not internal_token:
            return
        offered = request.headers.get(INTERNAL_TOKEN_HEADER, "")
        if not hmac.compare_digest(offered.encode(), internal_token.encode()):
            raise HTTPException(401, f"a valid {INTERNAL_TOKEN_HEADER} is required")

    @app.get("/operations/dead-letters", include_in_schema=False, dependencies=[Depends(operator)])
    async def get_dead_letters(include_replayed: bool = False, limit: int = 100) -> dict:
        items = await list_dead_letters(dead_letters.pool, include_replayed=include_replayed,
                                        limit=max(1, min(limit, 1000)))
        waiting = await dead_letters.refresh()
        return {"service": dead_letters.service, "waiting": waiting,
                "dead_letters": [{**i, "created_at": i["created_at"].isoformat(),
                                  "replayed_at": i["replayed_at"].isoformat() if i["replayed_at"] else None}
                                 for i in items]}

    @app.post("/operations/dead-letters/replay", include_in_schema=False,
              dependencies=[Depends(operator)])
    async def post_replay(ids: list[int] | None = Body(default=None, embed=True)) -> dict:
        producer = new_producer(bootstrap_servers)
        await producer.start()
        try:
            replayed = await replay_dead_letters(dead_letters.pool, producer, ids)
        finally:
            await producer.stop()
        waiting = await dead_letters.refresh()
        return {"service": dead_letters.service, "replayed": replayed, "waiting": waiting}
