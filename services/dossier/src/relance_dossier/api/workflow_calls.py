"""What the dossier API asks of the workflows: Temporal Updates (commands that need an
immediate answer, ordered with the workflow's timers in one history) and queries, by
their typed names in `relance.contracts`, and the one mapping of a workflow's refusal
(`ApplicationError.type`) to an HTTP answer."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import (
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from relance.api.errors import ApiError
from relance.contracts import Query, Refusal, Update

In = TypeVar("In")
Out = TypeVar("Out")

# A workflow starts from the event written with its dossier, transfer or action, a moment
# after that commit: an Update sent in that moment waits for it rather than failing.
WORKFLOW_START_WAIT_SECONDS = 20.0
POLL_SECONDS = 0.2
# An activity commits its row before its workflow records the result: a caller that read
# the row may be ahead of the workflow by that much.
CATCH_UP_SECONDS = 10.0

# Refusals that are bad input: 422, naming the field. Every other refusal is a state
# conflict: 409, naming the field of STATE_FIELDS when there is one.
INPUT_REFUSALS: dict[Refusal, str | None] = {
    Refusal.CONFIRMATION_REQUIRED: "confirm",
    Refusal.PROMISE_INCOMPLETE: "promise_amount",
    Refusal.NOTHING_TO_CHANGE: None,
    Refusal.INVALID_KIND: "kind",
    Refusal.COMMENT_REQUIRED: "comment",
}
STATE_FIELDS: dict[Refusal, str] = {
    Refusal.TRANSFER_CLOSED: "state",
    Refusal.CANCELLATION_PENDING: "state",
    Refusal.CANCEL_IN_PROGRESS: "state",
}


def _refusal_kind(error: ApplicationError) -> Refusal | None:
    return Refusal(error.type) if error.type and error.type in Refusal._value2member_map_ else None


def refusal_answer(error: ApplicationError) -> ApiError:
    """The HTTP answer to a workflow's refusal; its reason goes to the caller as is."""
    kind = _refusal_kind(error)
    if kind in INPUT_REFUSALS:
        return ApiError(422, INPUT_REFUSALS[kind], error.message)
    return ApiError(409, STATE_FIELDS.get(kind) if kind else None, error.message)


def _application_error(error: BaseException | None) -> ApplicationError | None:
    """The refusal behind an Update's failure: raised by its validator or handler, or by
    the activity it ran (then wrapped in an ActivityError)."""
    while error is not None and not isinstance(error, ApplicationError):
        error = error.__cause__  # what temporalio's `.cause` returns
    return error


async def execute_update(
    temporal: Client,
    workflow_id: str,
    update: Update[In, Out],
    arg: In,
    *,
    not_running: ApiError,
    when_missing: Callable[[], Awaitable[None]] | None = None,
    catching_up: Callable[[Refusal], Awaitable[bool]] | None = None,
) -> Out:
    """Send `update` and return its typed answer. A refusal becomes its HTTP answer; a
    workflow not (yet) running is waited for up to WORKFLOW_START_WAIT_SECONDS, then
    answered with `not_running`. `when_missing` may answer sooner (it raises an ApiError,
    e.g. when the transfer is already closed). `catching_up` says whether a refusal only
    means the workflow has not yet recorded what an activity committed (the caller read
    the row that activity wrote): the Update is then sent again, for CATCH_UP_SECONDS."""
    handle = temporal.get_workflow_handle(workflow_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WORKFLOW_START_WAIT_SECONDS
    catch_up_until = loop.time() + CATCH_UP_SECONDS
    while True:
        try:
            return await handle.execute_update(update.name, arg, result_type=update.result)
        except WorkflowUpdateFailedError as exc:
            refusal = _application_error(exc.cause)
            if refusal is None:
                raise
            kind = _refusal_kind(refusal)
            if (catching_up is not None and kind is not None and loop.time() < catch_up_until
                    and await catching_up(kind)):
                await asyncio.sleep(POLL_SECONDS)
                continue
            raise refusal_answer(refusal) from None
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            if when_missing is not None:
                await when_missing()
            if loop.time() > deadline:
                raise not_running from None
            await asyncio.sleep(POLL_SECONDS)


async def execute_update_with_start(
    temporal: Client,
    workflow_id: str,
    update: Update[In, Out],
    arg: In,
    *,
    workflow_type: str,
    start_input: BaseModel,
    task_queue: str,
    closed: ApiError,
    search_attributes: TypedSearchAttributes | None = None,
) -> Out:
    """Send `update` to the entity's workflow, starting it with `start_input` when it does
    not exist yet (issue 10): the command never waits for the event that starts the
    workflow. A running workflow is used as it is (USE_EXISTING); one that already closed
    is never started again (REJECT_DUPLICATE) and answers `closed`."""
    start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        workflow_type, start_input, id=workflow_id, task_queue=task_queue,
        search_attributes=search_attributes,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    try:
        return await temporal.execute_update_with_start_workflow(
            update.name, arg, start_workflow_operation=start, result_type=update.result)
    except WorkflowUpdateFailedError as exc:
        refusal = _application_error(exc.cause)
        if refusal is None:
            raise
        raise refusal_answer(refusal) from None
    except WorkflowAlreadyStartedError:
        raise closed from None


async def query(
    temporal: Client, workflow_id: str, query: Query[Out], *, not_running: ApiError
) -> Out:
    """Ask a running workflow `query`; a read does not wait for a workflow to start."""
    handle = temporal.get_workflow_handle(workflow_id)
    try:
        return await handle.query(query.name, result_type=query.result)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        raise not_running from None
