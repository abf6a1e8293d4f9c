"""One lane per Kafka key: a batch of messages handled concurrently across clients, in
order within each client.

The relay keys every event and command by its client id, so one client's messages reach a
consumer in the order they were written (ARCHITECTURE: one client's events stay in
order). A batch is split into lanes by key, each lane handled one message after the
other, and at most `concurrency` lanes at once: the notifier does not send a morning
batch one email after the other, the workflow bridge does not start a burst of transfer
workflows one after the other, and a client's second message never overtakes its first."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import trace

from relance.observability import context_from, tracer

if TYPE_CHECKING:
    from relance.dead_letters import DeadLetters, Handler

T = TypeVar("T")


@dataclass(frozen=True)
class RecordMessage:
    """One record of a batch as `DeadLetters.handle` reads a message (its body and raw
    record), so a batch consumer parks a bad record like a one-message consumer does."""

    raw_message: Any  # aiokafka ConsumerRecord

    @property
    def body(self) -> bytes:
        return self.raw_message.value or b""


def lanes_of(items: Iterable[T], key: Callable[[T], Hashable]) -> list[list[T]]:
    """The items grouped by key, each group in the items' order, groups in the order of
    their first item."""
    lanes: dict[Hashable, list[T]] = {}
    for item in items:
        lanes.setdefault(key(item), []).append(item)
    return list(lanes.values())


async def run_in_lanes(
    items: Iterable[T],
    *,
    key: Callable[[T], Hashable],
    handle: Callable[[T], Awaitable[object]],
    concurrency: int,
) -> None:
    """Handle every item: items of one key one after the other, at most `concurrency`
    keys at once. Returns once all are handled; an error cancels the other lanes and is
    raised (the batch is then delivered again, and what was done is deduplicated)."""
    pending = lanes_of(items, key)
    pending.reverse()  # pop() takes the lanes in order

    async def worker() -> None:
        while pending:
            for item in pending.pop():
                await handle(item)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(max(1, concurrency), len(pending))):
            group.create_task(worker())


async def consume_in_lanes(
    records: Iterable[Any], dead_letters: DeadLetters, handler: Handler, *, concurrency: int
) -> None:
    """A batch of Kafka records (aiokafka's) through `dead_letters` to `handler`, one lane
    per key. The batch has one consumer span of the middleware's; each record continues
    the trace its own headers carry (the relay's publish)."""

    async def handle_record(record: Any) -> None:
        headers = {key: value.decode(errors="replace") for key, value in record.headers or ()}
        with tracer().start_as_current_span(
            f"{record.topic} process", context=context_from(headers), kind=trace.SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": record.topic,
                        "messaging.message.id": headers.get("event_id", "")},
        ):
            await dead_letters.handle(RecordMessage(record), handler)

    await run_in_lanes(records, key=lambda record: record.key, handle=handle_record,
                       concurrency=concurrency)
