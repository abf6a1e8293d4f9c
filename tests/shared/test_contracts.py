"""The typed contracts of `relance.contracts` are the truth on both sides: the workflows
declare exactly their Updates, signals and queries, the dossier service's worker registers
exactly their activities, and neither service imports the other."""

import ast
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError

from relance.contracts import (
    Activity,
    Query,
    Refusal,
    Signal,
    Update,
    action,
    dossier,
    late_fees,
    payment_plan,
    transfer,
)
from relance_dossier.api.workflow_calls import INPUT_REFUSALS, refusal_answer
from relance_dossier.settings import Settings as DossierSettings
from relance_dossier.worker import activities
from relance_workflow.workflows.action import ActionWorkflow
from relance_workflow.workflows.dossier import DossierWorkflow
from relance_workflow.workflows.late_fee_run import LateFeeRunWorkflow
from relance_workflow.workflows.payment_plan import PaymentPlanWorkflow
from relance_workflow.workflows.transfer import TransferWorkflow

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = [(dossier, DossierWorkflow), (action, ActionWorkflow), (transfer, TransferWorkflow),
             (payment_plan, PaymentPlanWorkflow), (late_fees, LateFeeRunWorkflow)]


def _declared(module, kind: type) -> dict:
    return {v.name: v for v in vars(module).values() if isinstance(v, kind)}


@pytest.mark.parametrize(("contract", "workflow_class"), CONTRACTS)
def test_each_workflow_declares_exactly_the_handlers_of_its_contract(contract, workflow_class):
    definition = workflow._Definition.from_class(workflow_class)
    assert definition.name == contract.WORKFLOW_TYPE
    updates, signals, queries = (_declared(contract, t) for t in (Update, Signal, Query))
    assert set(definition.updates) == set(updates)
    assert set(definition.signals) == set(signals)
    assert set(definition.queries) == set(queries)
    for name, update in updates.items():
        assert definition.updates[name].arg_types == [update.arg]
        assert definition.updates[name].ret_type == update.result
    for name, signal in signals.items():
        assert definition.signals[name].arg_types == [signal.arg]
    for name, query in queries.items():
        assert definition.queries[name].ret_type == query.result


def test_the_dossier_worker_registers_every_contract_activity_under_its_name():
    registered = {activity._Definition.must_from_callable(fn).name: fn
                  for fn in activities(pool=None, settings=DossierSettings())}
    declared = {}
    for contract, _ in CONTRACTS:
        declared.update(_declared(contract, Activity))
    assert set(registered) == set(declared)


def _imports(folder: Path) -> set[str]:
    found = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def test_the_workflow_and_dossier_services_do_not_import_each_other():
    assert "relance_dossier" not in _imports(ROOT / "services" / "workflow" / "src")
    assert "relance_workflow" not in _imports(ROOT / "services" / "dossier" / "src")


def test_every_refusal_has_one_http_answer():
    for kind in Refusal:
        answer = refusal_answer(ApplicationError("why", type=kind.value))
        assert answer.status_code == (422 if kind in INPUT_REFUSALS else 409)
        assert answer.reason == "why"
    assert refusal_answer(ApplicationError("x", type=Refusal.COMMENT_REQUIRED.value)).field == "comment"
    assert refusal_answer(ApplicationError("x", type=Refusal.TRANSFER_CLOSED.value)).field == "state"
    assert refusal_answer(ApplicationError("x", type="SomethingElse")).status_code == 409
