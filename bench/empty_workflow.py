"""The bare baseline of the workflow bench: a workflow that returns at once.

Kept in its own module with nothing but temporalio imported, so the worker's sandbox
loads it cheaply."""

from temporalio import workflow


@workflow.defn
class EmptyWorkflow:
    @workflow.run
    async def run(self) -> None:
        return None
