"""One backoff formula and one polling loop for every service (relance.retry)."""

import asyncio

import pytest

from relance import retry
from relance.retry import backoff_delay, poll_loop


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    assert [backoff_delay(n, base=0.5, cap=3) for n in range(1, 6)] == [0.5, 1, 2, 3, 3]
    assert backoff_delay(0, base=2, cap=60) == 2  # an attempt count of 0 waits the base


def test_backoff_with_full_jitter_draws_below_the_delay() -> None:
    assert backoff_delay(3, base=2, cap=60, jitter=True, rand=lambda: 0.25) == 2.0
    assert backoff_delay(10, base=2, cap=60, jitter=True, rand=lambda: 1.0) == 60


def test_backoff_of_a_very_late_attempt_stays_at_the_cap() -> None:
    assert backoff_delay(100_000, base=5, cap=3600) == 3600


async def test_poll_loop_works_while_there_is_work_then_waits_to_be_woken() -> None:
    wake = asyncio.Event()
    rounds: list[str] = []
    results = iter([3, 1, 0, 2])
    idle: list[int] = []

    async def work_once() -> int:
        done = next(results)
        rounds.append(f"work:{done}")
        return done

    async def on_idle() -> None:
        idle.append(len(rounds))
        raise RuntimeError("a gauge query fails: the loop goes on")

    loop = asyncio.create_task(poll_loop(
        work_once, wake=wake, idle_seconds=60, on_error=lambda exc, delay: None, on_idle=on_idle,
        stopping=lambda: len(rounds) >= 4,
    ))
    await asyncio.sleep(0.05)
    assert rounds == ["work:3", "work:1", "work:0"]  # then asleep, not polling
    assert idle == [3]
    wake.set()
    await asyncio.wait_for(loop, 1)
    assert rounds == ["work:3", "work:1", "work:0", "work:2"]


async def test_poll_loop_does_not_lose_a_wake_that_comes_while_a_round_finds_nothing() -> None:
    wake = asyncio.Event()
    rounds: list[int] = []
    results = iter([0, 1])

    async def work_once() -> int:
        done = next(results)
        rounds.append(done)
        if len(rounds) == 1:
            wake.set()  # work committed (and notified) after this round's query
        return done

    async def on_idle() -> None:
        await asyncio.sleep(0)

    loop = asyncio.create_task(poll_loop(
        work_once, wake=wake, idle_seconds=60, on_error=lambda exc, delay: None, on_idle=on_idle,
        stopping=lambda: len(rounds) >= 2,
    ))
    await asyncio.wait_for(loop, 1)  # not 60 s: the wake started the next round at once
    assert rounds == [0, 1]


async def test_poll_loop_backs_off_after_failed_rounds_and_starts_again_after_a_good_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sleeps: list[float] = []
    errors: list[tuple[str, float]] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr(retry.asyncio, "sleep", fake_sleep)
    outcomes: list[int | Exception] = [OSError("down"), OSError("down"), OSError("down"), 1, OSError("down")]
    calls = 0

    async def work_once() -> int:
        nonlocal calls
        outcome = outcomes[calls]
        calls += 1
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    await poll_loop(
        work_once, wake=asyncio.Event(), idle_seconds=60,
        on_error=lambda exc, delay: errors.append((str(exc), delay)), stopping=lambda: calls >= 5,
    )
    assert sleeps == [0.5, 1.0, 2.0, 0.5]
    assert errors == [("down", 0.5), ("down", 1.0), ("down", 2.0), ("down", 0.5)]
