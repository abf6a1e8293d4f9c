"""The workflow service's Temporal worker: the workflows of Relance on one task queue. It
hosts no activity: the activities that change dossier data run in the dossier service's
worker, on the queue the workflows name (`dossier_task_queue` of their input)."""

import compileall
import sys
from collections.abc import Sequence
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import PollerBehaviorSimpleMaximum, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from relance.temporal import connect  # noqa: F401 - the service's client (tracing, metrics)
from relance_workflow.settings import Settings
from relance_workflow.workflows.action import ActionWorkflow
from relance_workflow.workflows.dossier import DossierWorkflow
from relance_workflow.workflows.late_fee_run import LateFeeRunWorkflow
from relance_workflow.workflows.payment_plan import PaymentPlanWorkflow
from relance_workflow.workflows.transfer import TransferWorkflow

WORKFLOWS = [DossierWorkflow, ActionWorkflow, TransferWorkflow, PaymentPlanWorkflow, LateFeeRunWorkflow]

# Issue 11: the sandbox re-imports, for every workflow run, each module that is not passed
# through (temporalio/sdk-python#1834 measured 6-57 ms a task). The message models, their
# pydantic core and our own pure modules are deterministic, side-effect-free imports: they
# are passed through once here, so no workflow module's import can bring that cost back.
PASSED_THROUGH = ("pydantic", "pydantic_core", "annotated_types", "typing_extensions",
                  "relance", "structlog", "opentelemetry")


def sandbox_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH))


def write_bytecode(workflows: Sequence[type]) -> None:
    """The sandbox runs a workflow's module afresh for every workflow it loads that is not
    in its cache (a timer firing on one of 20,000 open transfers). Without a bytecode cache
    (PYTHONDONTWRITEBYTECODE, an editable install) each run compiled the module's source:
    a fifth of the workflow worker's CPU in the scale run's transfer burst (profiled). The
    bytecode of the workflows' modules, and of the modules beside them that they import,
    is written once at start; where the files are read-only it stays as it was."""
    for directory in {Path(sys.modules[w.__module__].__file__ or "").parent for w in workflows}:
        compileall.compile_dir(directory, maxlevels=0, quiet=2)


def build_worker(client: Client, settings: Settings, *, workflows: Sequence[type] = WORKFLOWS,
                 task_queue: str | None = None) -> Worker:
    """The service's worker; the bench runs its bare baseline on the same settings."""
    write_bytecode(workflows)
    return Worker(
        client,
        task_queue=task_queue or settings.temporal_task_queue,
        workflows=list(workflows),
        workflow_runner=sandbox_runner(),
        max_cached_workflows=settings.workflow_cache_size,
        workflow_task_poller_behavior=PollerBehaviorSimpleMaximum(settings.workflow_task_pollers),
        nonsticky_to_sticky_poll_ratio=settings.workflow_nonsticky_poll_ratio,
    )
