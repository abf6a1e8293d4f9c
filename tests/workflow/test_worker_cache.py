"""Issue 11: the workflow worker's sticky cache is sized by a setting, since a workflow
that is not cached is rebuilt and replayed in the sandbox whenever its timer fires."""

from temporalio.client import Client

from relance_workflow.settings import Settings
from relance_workflow.worker import build_worker


async def test_the_worker_caches_as_many_workflows_as_workflow_cache_size_says(stack, monkeypatch) -> None:
    client = await Client.connect(stack.temporal_address)
    assert Settings().workflow_cache_size == 1000  # Temporal's own default
    monkeypatch.setenv("WORKFLOW_CACHE_SIZE", "5000")
    worker = build_worker(client, Settings(), task_queue="cache-size-check")
    assert worker.config()["max_cached_workflows"] == 5000
