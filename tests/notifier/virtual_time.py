"""An event loop on virtual time, for tests of code that waits on the loop's clock (the
rate limiters): time advances one tick per turn of the loop and, when every task waits,
jumps to the next timer. A thousand sends at 100/s take no real time."""

import asyncio
import selectors
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
TICK = 1e-9  # the resolution of the monotonic clock


class _JumpingSelector(selectors.DefaultSelector):  # type: ignore[misc, valid-type]
    def __init__(self, loop: "VirtualTimeLoop") -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None:
            # Nothing is ready before the next timer: go there. Each turn of the loop also
            # takes one tick, as on a real clock, so code that waits "a hair longer"
            # (float rounding in a leaky bucket) sees time pass.
            self._loop.now += max(timeout, TICK)
            timeout = 0
        return super().select(timeout)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self.now


def run_in_virtual_time(main: Callable[[], Awaitable[T]], start: float = 1000.0) -> T:
    loop = VirtualTimeLoop(start)
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()
