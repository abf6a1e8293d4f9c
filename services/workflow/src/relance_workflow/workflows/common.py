"""What every Relance workflow does the same way: activity options and calls, refusals of
Updates, and ignoring Kafka events delivered twice. Deterministic code only (workflow
sandbox)."""

from collections.abc import Iterable
from datetime import timedelta
from typing import TypedDict, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from relance.contracts import Activity, Refusal

In = TypeVar("In")
Out = TypeVar("Out")


class ActivityOptions(TypedDict):
    """The keyword arguments of `workflow.execute_activity_method` that every call shares
    (typed, so that `**ACTIVITY_OPTIONS` is checked against the call)."""

    start_to_close_timeout: timedelta
    retry_policy: RetryPolicy


ACTIVITY_OPTIONS = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)),
)


async def run_activity(activity: Activity[In, Out], arg: In, task_queue: str) -> Out:
    """Schedule an activity by its contract name on the queue of the service that hosts
    it (the dossier's worker for dossier data), with the common options."""
    result: Out = await workflow.execute_activity(
        activity.name, arg, task_queue=task_queue, result_type=activity.result,
        **ACTIVITY_OPTIONS,
    )
    return result


def rejected(reason: str, kind: Refusal) -> ApplicationError:
    """An Update refused by its validator: the reason goes back to the caller as is, the
    kind tells the caller which answer to give."""
    return ApplicationError(reason, type=kind.value, non_retryable=True)


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
