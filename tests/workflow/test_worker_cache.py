"""Issue 11: the workflow worker's sticky cache and its workflow-task polls are set by
settings, since a workflow that is not cached is rebuilt and replayed in the sandbox
whenever its timer fires, from a task that waits on the task queue's polls."""

import pytest
from pydantic import ValidationError
from temporalio.client import Client

from relance_workflow.settings import Settings
from relance_workflow.worker import build_worker


async def test_the_worker_caches_as_many_workflows_as_workflow_cache_size_says(stack, monkeypatch) -> None:
    client = await Client.connect(stack.temporal_address)
    assert Settings().workflow_cache_size == 1000  # Temporal's own default
    monkeypatch.setenv("WORKFLOW_CACHE_SIZE", "5000")
    worker = build_worker(client, Settings(), task_queue="cache-size-check")
    assert worker.config()["max_cached_workflows"] == 5000


async def test_the_worker_polls_as_many_workflow_tasks_as_its_settings_say(stack, monkeypatch) -> None:
    client = await Client.connect(stack.temporal_address)
    # Temporal's own defaults (the measured trade is in the settings).
    assert (Settings().workflow_task_pollers, Settings().workflow_nonsticky_poll_ratio) == (5, 0.2)
    monkeypatch.setenv("WORKFLOW_TASK_POLLERS", "20")
    monkeypatch.setenv("WORKFLOW_NONSTICKY_POLL_RATIO", "1")
    worker = build_worker(client, Settings(), task_queue="pollers-check")
    assert worker.config()["workflow_task_poller_behavior"].maximum == 20
    assert worker.config()["nonsticky_to_sticky_poll_ratio"] == 1.0


def test_a_worker_with_fewer_than_two_workflow_task_polls_is_refused(monkeypatch) -> None:
    # Temporal needs one poll for the sticky queue and one for the task queue.
    monkeypatch.setenv("WORKFLOW_TASK_POLLERS", "1")
    with pytest.raises(ValidationError, match="workflow_task_pollers"):
        Settings()
