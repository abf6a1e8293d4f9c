"""Side effects of the specific action workflow (F-15 .. F-20), run by the dossier
service's worker: each activity is one
transaction and idempotent under retries (it reads the action's status first)."""

from uuid import UUID, uuid5

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from relance.audit import record_audit
from relance.contracts import Refusal
from relance.contracts import action as contract
from relance.contracts.action import ActionCloseRequest, ActionDueResult
from relance.outbox import write_events
from relance.scenarios import SENDING_ACTIONS
from relance_dossier.persistence.communications import communication_command

PENDING = ("scheduled", "todo", "awaiting_confirmation")
SENDING = {a.value for a in SENDING_ACTIONS}


def action_communication_id(action_id: UUID) -> UUID:
    return uuid5(action_id, "communication")


async def _audit(conn, row, actor: str, action: str, comment: str | None) -> None:
    await record_audit(conn, client_id=row["client_id"], actor=actor, action=action,
                       entity="specific_action", entity_id=str(row["id"]), comment=comment)


async def _send(conn: asyncpg.Connection, row, actor: str) -> None:
    """The notifier's command carries only the action's items (F-18 tags)."""
    item_ids = await conn.fetch(
        "SELECT item_id FROM specific_action_items WHERE action_id = $1", row["id"]
    )
    communication_id = action_communication_id(row["id"])
    command = await communication_command(
        conn, communication_id=communication_id, client_id=row["client_id"],
        channel=row["action_type"], template_code=row["template_code"],
        item_ids=[r["item_id"] for r in item_ids], automatic=row["mode"] == "automatic",
        dossier_id=row["dossier_id"], subject=row["subject"], body=row["body"],
    )
    await write_events(conn, [command.envelope(
        aggregate_id=communication_id, client_id=row["client_id"], actor=actor
    )])
    await conn.execute(
        "UPDATE specific_actions SET status = 'sent', communication_id = $2,"
        " completed_at = now() WHERE id = $1", row["id"], communication_id,
    )


class ActionActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def _row(self, conn: asyncpg.Connection, action_id: UUID):
        row = await conn.fetchrow(
            "SELECT * FROM specific_actions WHERE id = $1 FOR UPDATE", action_id
        )
        if row is None:
            raise ApplicationError(f"no specific action {action_id}", type=Refusal.ACTION_NOT_FOUND,
                                   non_retryable=True)
        return row

    @activity.defn(name=contract.ACTION_DUE.name)
    async def action_due(self, action_id: UUID) -> ActionDueResult:
        """The action's date has come. F-20: when all its items are settled it is deleted,
        with an audit entry; otherwise it runs (automatic) or waits for the collector."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await self._row(conn, action_id)
            if row["status"] != "scheduled":
                return ActionDueResult(status=row["status"])  # an earlier attempt committed
            unpaid = await conn.fetchval(
                "SELECT count(*) FROM specific_action_items s JOIN items i ON i.id = s.item_id"
                " WHERE s.action_id = $1 AND i.open_amount > 0", action_id,
            )
            if unpaid == 0:
                await conn.execute(
                    "UPDATE specific_actions SET status = 'deleted', completed_at = now()"
                    " WHERE id = $1", action_id,
                )
                await _audit(conn, row, "workflow", "delete", "all its items are settled (F-20)")
                return ActionDueResult(status="deleted")
            if row["mode"] == "automatic" and row["action_type"] in SENDING:
                await _send(conn, row, "workflow")
                await _audit(conn, row, "workflow", "send", None)
                return ActionDueResult(status="sent")
            status = (
                "awaiting_confirmation"
                if row["mode"] == "automatic_to_confirm" and row["action_type"] in SENDING
                else "todo"
            )
            await conn.execute("UPDATE specific_actions SET status = $2 WHERE id = $1",
                               action_id, status)
            return ActionDueResult(status=status)

    @activity.defn(name=contract.CLOSE_ACTION.name)
    async def close_action(self, request: ActionCloseRequest) -> ActionDueResult:
        """A collector confirmed (sent), finished (done) or deleted the action."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await self._row(conn, request.action_id)
            if row["status"] not in PENDING:
                return ActionDueResult(status=row["status"])  # an earlier attempt committed
            if request.status == "sent":
                await _send(conn, row, request.actor)
            else:
                await conn.execute(
                    "UPDATE specific_actions SET status = $2, completed_at = now(),"
                    " comment = COALESCE($3, comment) WHERE id = $1",
                    request.action_id, request.status, request.comment,
                )
            await _audit(conn, row, request.actor,
                         {"sent": "confirm", "done": "done", "deleted": "delete"}[request.status],
                         request.comment)
            return ActionDueResult(status=request.status)

    def all(self) -> list:
        return [self.action_due, self.close_action]
