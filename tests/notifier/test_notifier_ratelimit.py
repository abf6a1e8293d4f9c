"""Per-channel rate limits (F-32): a morning batch is spread evenly instead of flooding
the SMTP relay or the SMS provider. The limiter runs on a virtual-time event loop."""

import asyncio

from relance_notifier.channels.ratelimit import RateLimiter
from relance_notifier.channels.sms import SmsChannel
from relance_notifier.settings import Settings
from tests.notifier.virtual_time import run_in_virtual_time


async def acquisition_times(limiter: RateLimiter, count: int) -> list[float]:
    loop = asyncio.get_running_loop()
    times = []
    for _ in range(count):
        await limiter.acquire()
        times.append(loop.time())
    return times


def test_f32_a_batch_is_spaced_at_the_configured_rate() -> None:
    async def main() -> list[float]:
        return await acquisition_times(RateLimiter(100), 1000)

    times = run_in_virtual_time(main, start=1000.0)
    # 1000 sends at 100/s take 9.99 s of waiting: never more than 100 in any second.
    assert abs(times[0] - 1000.0) < 1e-6
    assert abs(times[-1] - 1000.0 - 9.99) < 1e-4
    assert all(abs(b - a - 0.01) < 1e-6 for a, b in zip(times, times[1:], strict=False))
    assert all(later - times[i] >= 1 - 1e-6 for i, later in enumerate(times[100:]))


def test_f32_idle_time_is_not_saved_up_for_a_burst() -> None:
    async def main() -> list[float]:
        limiter = RateLimiter(2)
        await limiter.acquire()
        await asyncio.sleep(60)  # a quiet minute
        return await acquisition_times(limiter, 2)

    first, second = run_in_virtual_time(main, start=1000.0)
    assert abs(first - 1060.0) < 1e-6 and abs(second - first - 0.5) < 1e-6


def test_f32_zero_rate_means_no_limit() -> None:
    async def main() -> list[float]:
        return await acquisition_times(RateLimiter(0), 50)

    times = run_in_virtual_time(main, start=1000.0)
    assert times[-1] - times[0] < 1e-6


async def test_f32_sms_channel_is_limited_by_its_own_setting() -> None:
    sms = SmsChannel(Settings(sms_provider_url="http://127.0.0.1:9/sms", sms_rate_per_second=4))
    assert sms._limiter.interval == 0.25
    await sms.aclose()
