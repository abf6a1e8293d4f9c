"""Webhook retry schedule: exponential backoff with full jitter, then a dead letter."""

import random
from collections.abc import Callable


def retry_delay(
    attempt: int,
    *,
    base_seconds: float,
    max_seconds: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    Full jitter (a uniform draw below the exponential cap) spreads the retries of many
    deliveries failing at once, so a recovering agency is not hit by a wave."""
    cap = min(max_seconds, base_seconds * (2 ** (attempt - 1)))
    return cap * rand()


def is_exhausted(attempts: int, max_attempts: int) -> bool:
    """After `max_attempts` failed attempts the delivery becomes a dead letter."""
    return attempts >= max_attempts


def is_success(status_code: int) -> bool:
    return 200 <= status_code < 300
