"""Per-channel rate limits (F-32): at most `rate` sends per second, evenly spaced.

An aiolimiter leaky bucket that holds a single send and drains at `rate` per second: a
send waits until the previous one has drained, so a morning batch is spread evenly, and a
quiet minute is never saved up for a burst. Each channel has its own limiter and setting."""

from aiolimiter import AsyncLimiter


class RateLimiter:
    def __init__(self, rate_per_second: float) -> None:
        """`rate_per_second` of 0 or less: no limit."""
        self.rate_per_second = rate_per_second
        self._bucket = AsyncLimiter(1, 1.0 / rate_per_second) if rate_per_second > 0 else None

    @property
    def interval(self) -> float:
        """Seconds between two sends (0: no limit)."""
        return self._bucket.time_period if self._bucket is not None else 0.0

    async def acquire(self) -> None:
        if self._bucket is not None:
            await self._bucket.acquire()
