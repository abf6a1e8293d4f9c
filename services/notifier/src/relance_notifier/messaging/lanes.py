"""One lane per Kafka key: a batch of commands handled concurrently across clients, in
order within each client.

The relay keys every command by its client id, so one client's commands reach the
notifier in the order they were written (ARCHITECTURE: one client's events stay in
order). A batch is split into lanes by key, each lane handled one command after the
other, and at most `concurrency` lanes at once: a morning batch is not sent one email
after the other, and a client's second reminder never overtakes its first."""

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import TypeVar

T = TypeVar("T")


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
