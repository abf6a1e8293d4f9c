"""Per-channel rate limits (F-32): a morning batch is spread evenly instead of flooding
the SMTP relay or the SMS provider. A controllable clock replaces real time."""

from relance_notifier.channels.ratelimit import RateLimiter
from relance_notifier.channels.sms import SmsChannel
from relance_notifier.settings import Settings


class Clock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_f32_a_batch_is_spaced_at_the_configured_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(100, clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        await limiter.acquire()
    # 1000 sends at 100/s take 9.99 s of waiting: never more than 100 in any second.
    assert len(clock.sleeps) == 999
    assert abs(clock.now - 1000.0 - 9.99) < 1e-6


async def test_f32_idle_time_is_not_saved_up_for_a_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(2, clock=clock, sleep=clock.sleep)
    await limiter.acquire()
    clock.now += 60  # a quiet minute
    await limiter.acquire()
    await limiter.acquire()
    assert clock.sleeps == [0.5]


async def test_f32_zero_rate_means_no_limit() -> None:
    clock = Clock()
    limiter = RateLimiter(0, clock=clock, sleep=clock.sleep)
    for _ in range(50):
        await limiter.acquire()
    assert clock.sleeps == []


async def test_f32_sms_channel_is_limited_by_its_own_setting() -> None:
    sms = SmsChannel(Settings(sms_provider_url="http://127.0.0.1:9/sms", sms_rate_per_second=4))
    assert sms._limiter._interval == 0.25
    await sms.aclose()
