"""SQL for specific actions (F-15 .. F-20): the three-step flow in one transaction."""

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from relance.events import ItemsStatusSet, SpecificActionCreated
from relance.outbox import write_events
from relance_dossier.persistence.clients import record_audit
from relance_dossier.persistence.communications import communication_command

PENDING = ("scheduled", "todo", "awaiting_confirmation")


async def selectable_items(conn: asyncpg.Connection, dossier_id: UUID, item_ids: list[UUID]):
    """The selected items with whether each is still open and already under an action.

    Issue 10: two concurrent actions on the same items: exactly one wins. The items are
    locked first (in id order, so two selections never deadlock), then read again by a
    statement of its own: under READ COMMITTED it sees what the transaction that held the
    locks committed (a single locking statement would judge `under_action` on the snapshot
    taken before it waited, and both actions would pass)."""
    await conn.execute(
        "SELECT 1 FROM items WHERE dossier_id = $1 AND id = ANY($2::uuid[])"
        " ORDER BY id FOR UPDATE", dossier_id, item_ids,
    )
    return await conn.fetch(
        "SELECT i.*, EXISTS (SELECT 1 FROM specific_action_items s JOIN specific_actions a"
        " ON a.id = s.action_id WHERE s.item_id = i.id AND a.status = ANY($3::text[]))"
        " AS under_action FROM items i WHERE i.dossier_id = $1 AND i.id = ANY($2::uuid[])",
        dossier_id, item_ids, list(PENDING),
    )


async def set_items_status(conn, *, client_id: UUID, dossier_id: UUID, item_ids: list[UUID],
                           status: str | None, comment: str | None, actor: str) -> None:
    """F-16 step 1; the dossier's workflow re-plans on the event (a dispute leaves the
    scenario, F-15)."""
    await conn.execute(
        "UPDATE items SET status = $2, status_comment = $3, updated_at = now()"
        " WHERE id = ANY($1::uuid[])", item_ids, status, comment,
    )
    await write_events(conn, [ItemsStatusSet(
        client_id=client_id, dossier_id=dossier_id, item_ids=item_ids, status=status,
        comment=comment,
    ).envelope(aggregate_id=dossier_id, client_id=client_id, actor=actor)])
    await record_audit(conn, client_id=client_id, actor=actor, action="set_status",
                       entity="items", entity_id=None, comment=comment,
                       details={"status": status, "item_ids": [str(i) for i in item_ids]})


async def request_email(conn, *, communication_id: UUID, client: asyncpg.Record, dossier_id: UUID,
                        items: list[asyncpg.Record], channel: str, template_code: str,
                        actor: str, recipient_email: str | None = None,
                        link_url: str | None = None, sender: str | None = None,
                        note: str | None = None) -> None:
    """F-16 step 2: the notifier's command carries only the selected items, so
    `#items_amount_selected` / `#items_list_selected` cover them alone (F-18); built by the
    one builder of the command, with the template and the contact channels."""
    command = await communication_command(
        conn, communication_id=communication_id, client_id=client["id"], channel=channel,
        template_code=template_code, item_ids=[i["id"] for i in items], automatic=False,
        dossier_id=dossier_id, recipient_email=recipient_email, link_url=link_url,
        sender=sender, note=note,
    )
    await write_events(conn, [command.envelope(aggregate_id=communication_id,
                                               client_id=client["id"], actor=actor)])
    await record_audit(conn, client_id=client["id"], actor=actor, action="send_" + channel,
                       entity="communication", entity_id=str(communication_id), comment=note,
                       details={"recipient_email": recipient_email})


async def create_action(conn, *, action_id: UUID, client: asyncpg.Record, dossier_id: UUID,
                        item_ids: list[UUID], fields: dict[str, Any], due_at: datetime,
                        actor: str) -> None:
    """F-16 step 3: the action and its items; the workflow service starts its workflow
    on the event (no dual write). `client` is the card's row (code, collector_code)."""
    client_id = client["id"]
    await conn.execute(
        "INSERT INTO specific_actions (id, client_id, dossier_id, action_type, mode, priority,"
        " template_code, subject, body, label, due_at, comment, copied_from, created_by)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
        action_id, client_id, dossier_id, fields["action_type"], fields["mode"],
        fields["priority"], fields.get("template_code"), fields.get("subject"),
        fields.get("body"), fields.get("label"), due_at, fields.get("comment"),
        fields.get("copied_from"), actor,
    )
    await conn.executemany(
        "INSERT INTO specific_action_items (action_id, item_id) VALUES ($1, $2)",
        [(action_id, i) for i in item_ids],
    )
    await write_events(conn, [SpecificActionCreated(
        action_id=action_id, client_id=client_id, dossier_id=dossier_id, item_ids=item_ids,
        action_type=fields["action_type"], mode=fields["mode"], due_at=due_at,
        client_code=client["code"], collector_code=client["collector_code"],
    ).envelope(aggregate_id=action_id, client_id=client_id, actor=actor)])
    await record_audit(conn, client_id=client_id, actor=actor, action="create",
                       entity="specific_action", entity_id=str(action_id),
                       comment=fields.get("comment"),
                       details={"mode": fields["mode"], "action_type": fields["action_type"],
                                "copied_from": fields.get("copied_from")})


ACTION_COLUMNS = (
    "a.*, c.code AS client_code, k.code AS collector_code,"
    " ARRAY(SELECT item_id FROM specific_action_items s WHERE s.action_id = a.id) AS item_ids"
)


async def action(conn: asyncpg.Connection, action_id: UUID):
    return await conn.fetchrow(
        f"SELECT {ACTION_COLUMNS}, c.collector_id FROM specific_actions a"
        " JOIN clients c ON c.id = a.client_id LEFT JOIN collectors k ON k.id = c.collector_id"
        " WHERE a.id = $1", action_id,
    )


PENDING_STATUSES = ("scheduled", "todo", "awaiting_confirmation")


async def actions_of_client(
    conn: asyncpg.Connection, client_id: UUID, pending_only: bool = False
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {ACTION_COLUMNS} FROM specific_actions a JOIN clients c ON c.id = a.client_id"
        " LEFT JOIN collectors k ON k.id = c.collector_id WHERE a.client_id = $1"
        " AND (NOT $2 OR a.status = ANY($3::text[]))"
        " ORDER BY a.due_at, a.created_at", client_id, pending_only, list(PENDING_STATUSES),
    )
