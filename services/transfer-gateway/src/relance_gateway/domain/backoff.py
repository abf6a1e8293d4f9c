"""Webhook retry rules: when a delivery has succeeded, and when it becomes a dead letter.
The delay between two tries is `relance.retry.backoff_delay` with full jitter."""


def is_exhausted(attempts: int, max_attempts: int) -> bool:
    """After `max_attempts` failed attempts the delivery becomes a dead letter."""
    return attempts >= max_attempts


def is_success(status_code: int) -> bool:
    return 200 <= status_code < 300
