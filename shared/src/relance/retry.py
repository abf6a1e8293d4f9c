"""Trying again, the same way everywhere: one exponential backoff formula, and one loop for
the background workers that poll a table for work (the outbox relay, the gateway's webhook
dispatcher).

`backoff_delay` is what the notifier waits between two tries of a send, what the gateway
waits between two tries of a webhook (with full jitter), and what a polling loop waits after
a failed round."""

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable

# A polling loop that fails (the database restarts, the broker is away) tries again after
# 0.5 s, 1 s, 2 s… at most 10 s; one good round starts the count again.
LOOP_BACKOFF_BASE_SECONDS = 0.5
LOOP_BACKOFF_MAX_SECONDS = 10.0
# 2 ** 64 times any base is past every cap: larger exponents only risk an overflow.
_MAX_EXPONENT = 64


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    jitter: bool = False,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): base, 2·base,
    4·base… up to `cap`.

    With `jitter` (full jitter), a uniform draw below that delay instead: it spreads the
    retries of many deliveries failing at once, so a recovering peer is not hit by a wave."""
    exponent = min(max(0, attempt - 1), _MAX_EXPONENT)
    delay = min(cap, base * 2.0**exponent)
    return delay * rand() if jitter else delay


async def poll_loop(
    work_once: Callable[[], Awaitable[int]],
    *,
    wake: asyncio.Event,
    idle_seconds: float,
    on_error: Callable[[Exception, float], None],
    on_idle: Callable[[], Awaitable[None]] | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """Run `work_once` until `stopping()`: straight again while it finds work (it returns how
    much it did); when it finds none, `on_idle` (errors ignored), then sleep until `wake` is
    set (a NOTIFY, a new row) or `idle_seconds` pass. A failed round is reported to
    `on_error(exc, retry_in)` and tried again after the loop's backoff: nothing is lost,
    the work stays in its table."""
    failures = 0
    while not stopping():
        # Cleared before the round looks for work, not after it found none: a wake that
        # comes during the round (work committed after its query) starts the next one at
        # once instead of being lost for `idle_seconds`.
        wake.clear()
        try:
            done = await work_once()
        except Exception as exc:  # noqa: BLE001 - the loop outlives a database hiccup
            failures += 1
            delay = backoff_delay(failures, base=LOOP_BACKOFF_BASE_SECONDS, cap=LOOP_BACKOFF_MAX_SECONDS)
            on_error(exc, delay)
            await asyncio.sleep(delay)
            continue
        failures = 0
        if done:
            continue
        if on_idle is not None:
            with contextlib.suppress(Exception):
                await on_idle()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), idle_seconds)
