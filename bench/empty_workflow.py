"""The bare baselines of the workflow bench: a workflow that returns at once, and one that
runs as many activities as a dossier's first step (plan it, open the intervention), with
no-op bodies, on a second task queue served by its own worker, as the dossier's
activities are.

Kept in its own module with nothing but temporalio imported, so the worker's sandbox
loads it cheaply."""

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
