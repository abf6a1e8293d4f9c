"""Business-key workflow ids, built here and nowhere else.

One workflow per business entity: starting the same entity twice lands on the same
workflow (signal-with-start, or a conflict policy), never on a random duplicate."""

from uuid import UUID


def dossier_workflow_id(dossier_id: UUID | str) -> str:
    return f"dossier-{dossier_id}"


def transfer_workflow_id(transfer_id: UUID | str) -> str:
    return f"transfer-{transfer_id}"


def action_workflow_id(action_id: UUID | str) -> str:
    return f"action-{action_id}"


def payment_plan_workflow_id(plan_id: UUID | str) -> str:
    """F-37: one workflow per payment plan, watching its instalments."""
    return f"payment-plan-{plan_id}"


def late_fee_run_workflow_id(dossier_task_queue: str) -> str:
    """F-38: one late-fee run per dossier service, known by the task queue of its activities
    (two deployments sharing a Temporal namespace each have their own)."""
    return f"late-fee-run-{dossier_task_queue}"
