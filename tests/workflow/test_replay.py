"""Replay tests: recorded histories of the dossier, specific action and payment plan (F-37)
workflows run against the current workflow code; a non-deterministic change fails here, before it
breaks the workflows running in production."""

import os

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from relance_workflow.worker import WORKFLOWS
from tests.workflow.incompatible_dossier import ReorderedDossierWorkflow
from tests.workflow.recording import HISTORIES, record_all

EXPECTED = ("dossier", "action", "payment_plan")


def _replayer() -> Replayer:
    return Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)


@pytest.fixture(scope="module")
async def dev_client(stack) -> Client:
    return await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)


async def test_saved_histories_replay_on_the_current_code():
    files = {p.stem: p for p in HISTORIES.glob("*.json")}
    assert set(EXPECTED) <= set(files), f"missing recorded histories: {set(EXPECTED) - set(files)}"
    for name, path in files.items():
        history = WorkflowHistory.from_json(f"replay-{name}", path.read_text())
        result = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, f"{name}: {result.replay_failure}"


async def test_fresh_histories_with_updates_replay_deterministically(dev_client, pool):
    """Recorded now on the dev server (Updates, signals, timers, activities) and replayed:
    the workflow code gives the same commands twice."""
    histories = await record_all(dev_client, pool)
    assert set(histories) == set(EXPECTED)
    for name, history in histories.items():
        events = [e.WhichOneof("attributes") for e in history.events]
        if name == "dossier":
            assert events.count("workflow_execution_update_completed_event_attributes") == 5
        result = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, f"{name}: {result.replay_failure}"
        if os.environ.get("RECORD_HISTORIES") == "1":
            (HISTORIES / f"{name}.json").write_text(history.to_json())


async def test_an_incompatible_change_fails_the_replay():
    history = WorkflowHistory.from_json("replay-dossier", (HISTORIES / "dossier.json").read_text())
    replayer = Replayer(workflows=[ReorderedDossierWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "Nondeterminism" in str(result.replay_failure) or "nondetermin" in str(result.replay_failure).lower()
