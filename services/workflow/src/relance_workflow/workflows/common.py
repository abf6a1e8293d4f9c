"""What every Relance workflow does the same way: activity options, refusals of Updates,
and ignoring Kafka events delivered twice. Deterministic code only (workflow sandbox)."""

from collections.abc import Iterable
from datetime import timedelta

from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

ACTIVITY_OPTIONS = dict(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)),
)


def rejected(reason: str, kind: str) -> ApplicationError:
    """An Update refused by its validator: the reason goes back to the caller as is."""
    return ApplicationError(reason, type=kind, non_retryable=True)


class SeenEvents:
    """Kafka delivers at least once: a signal carrying a seen event id is ignored. The
    most recent ids are kept, and carried over continue-as-new."""

    KEPT = 500

    def __init__(self, event_ids: Iterable[str] = ()) -> None:
        self._ids = list(event_ids)[-self.KEPT:]

    def first_time(self, event_id: str) -> bool:
        if event_id in self._ids:
            return False
        self._ids.append(event_id)
        del self._ids[:-self.KEPT]
        return True

    def carried(self) -> list[str]:
        return list(self._ids)
