"""The bare baselines of the workflow bench: a workflow that returns at once, and one that
runs as many activities as a dossier's first step (plan it, open the intervention), with
no-op bodies, on a second task queue served by its own worker, as the dossier's
activities are; and the transfer windows' baseline, a timer then one no-op activity.

Kept in its own module with nothing but temporalio imported, so the worker's sandbox
loads it cheaply."""

import time
from datetime import timedelta

from temporalio import activity, workflow

# A dossier's first step until its intervention exists: PLAN_NEXT_STEP, OPEN_INTERVENTION.
FIRST_STEP_ACTIVITIES = 2


@activity.defn(name="bench_noop")
async def noop(step: int) -> int:
    return step


@workflow.defn
class EmptyWorkflow:
    @workflow.run
    async def run(self) -> None:
        return None


@workflow.defn
class ActivitiesWorkflow:
    """`FIRST_STEP_ACTIVITIES` no-op activities one after the other, on `activity_queue`."""

    @workflow.run
    async def run(self, activity_queue: str) -> None:
        for step in range(FIRST_STEP_ACTIVITIES):
            await workflow.execute_activity(
                noop, step, task_queue=activity_queue, start_to_close_timeout=timedelta(seconds=30))


@activity.defn(name="bench_place")
async def place() -> float:
    """The bare placement: the wall clock when the activity ran (the window end's lag)."""
    return time.time()


@workflow.defn
class WindowWorkflow:
    """The transfer windows' baseline: wait until `window_end` (epoch seconds), then one
    no-op activity on `activity_queue`, as a transfer's window ends in `PLACE_TRANSFER`;
    returns the activity's moment."""

    @workflow.run
    async def run(self, window_end: float, activity_queue: str) -> float:
        remaining = window_end - workflow.now().timestamp()
        if remaining > 0:
            await workflow.sleep(remaining)
        return await workflow.execute_activity(
            place, task_queue=activity_queue, start_to_close_timeout=timedelta(seconds=30))
