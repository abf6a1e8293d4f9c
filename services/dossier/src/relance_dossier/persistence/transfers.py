"""SQL for transfers to collection agencies (F-27 … F-30): creation in one transaction
(transfer dossier, items moved, read-model row, audit, outbox event), and reads."""

from datetime import date, timedelta
from uuid import UUID, uuid4

import asyncpg

from relance.events import ItemsMoved, TransferCreated
from relance.outbox import write_events
from relance_dossier.domain.accounts import DomainError
from relance_dossier.domain.transfers import (
    CandidateItem,
    RegisteredAgency,
    check_transfer_agency,
    check_transfer_selection,
)
from relance_dossier.persistence.clients import active_dossier, record_audit
from relance_dossier.persistence.payment_plans import IN_ACTIVE_PLAN


async def create_transfer(
    conn: asyncpg.Connection,
    *,
    client: asyncpg.Record,
    item_ids: list[UUID],
    agency_code: str,
    agency: RegisteredAgency | None,
    next_follow_up_date: date,
    opening_comment: str,
    actor: str,
    window: timedelta,
    transfer_id: UUID | None = None,
) -> UUID:
    """F-27: the items move from the active dossier to a new transfer dossier. The
    TransferCreated event starts the transfer workflow, so if this transaction commits the
    workflow starts, and if it does not nothing happened (no dual write).

    `agency` is what the transfer gateway answered for `agency_code`, asked before this
    transaction (no call to another service while the items are locked).

    F-28: the window's end is fixed here, `window` after the creation, and carried in the
    event: a later change of the setting moves no open window, and the workflow has
    nothing to record before its timer."""
    transfer_id = transfer_id or uuid4()
    client_id = client["id"]
    async with conn.transaction():
        # Issue 10 (F-28, F-30): the window starts at the database clock's time of the
        # transfer, the one clock every API host shares, not this host's.
        created_at = await conn.fetchval("SELECT clock_timestamp()")
        window_ends_at = created_at + window
        active_id = await active_dossier(conn, client_id)
        # Locked, so two transfers racing for the same item cannot both take it.
        rows = await conn.fetch(
            "SELECT id, number, open_amount, dossier_id FROM items"
            " WHERE client_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR UPDATE",
            client_id, item_ids,
        )
        # F-37: read after the lock by a statement of its own, so a payment plan committed
        # on these items meanwhile is seen.
        in_plan = {r["id"] for r in await conn.fetch(
            f"SELECT i.id FROM items i WHERE i.id = ANY($1::uuid[]) AND {IN_ACTIVE_PLAN}",
            item_ids)}
        check_transfer_selection(item_ids, {
            r["id"]: CandidateItem(item_id=r["id"], number=r["number"],
                                   open_amount=r["open_amount"],
                                   in_active_dossier=r["dossier_id"] == active_id,
                                   in_plan=r["id"] in in_plan)
            for r in rows
        })
        if active_id is None:
            raise DomainError("code", "the client has no active dossier")
        # F-27, F-31: transfers go to agencies registered and active with the gateway.
        check_transfer_agency(agency_code, agency)
        await conn.execute(
            "INSERT INTO dossiers (id, client_id, kind, state, agency_code, opened_at)"
            " VALUES ($1, $2, 'transfer', 'open', $3, $4)",
            transfer_id, client_id, agency_code, created_at,
        )
        await conn.execute(
            "UPDATE items SET dossier_id = $1, updated_at = now() WHERE id = ANY($2::uuid[])",
            transfer_id, item_ids,
        )
        await conn.execute(
            "INSERT INTO transfers (id, client_id, agency_code, state, created_by, created_at,"
            " next_follow_up_date, opening_comment, item_ids, window_ends_at)"
            " VALUES ($1, $2, $3, 'in_window', $4, $5, $6, $7, $8, $9)",
            transfer_id, client_id, agency_code, actor, created_at, next_follow_up_date,
            opening_comment, item_ids, window_ends_at,
        )
        await write_events(conn, [
            TransferCreated(
                transfer_id=transfer_id, client_id=client_id, client_code=client["code"],
                agency_code=agency_code, item_ids=item_ids,
                next_follow_up_date=next_follow_up_date, opening_comment=opening_comment,
                created_at=created_at, window_ends_at=window_ends_at,
            ).envelope(aggregate_id=transfer_id, client_id=client_id, actor=actor),
            # The active dossier's scenario re-plans without these items.
            ItemsMoved(
                client_id=client_id, dossier_id=active_id, from_dossier_id=active_id,
                to_dossier_id=transfer_id, item_ids=item_ids, reason="transferred",
            ).envelope(aggregate_id=active_id, client_id=client_id, actor=actor),
        ])
        await record_audit(
            conn, client_id=client_id, actor=actor, action="create", entity="transfer",
            entity_id=str(transfer_id), comment=opening_comment,
            details={"agency_code": agency_code, "item_ids": [str(i) for i in item_ids],
                     "next_follow_up_date": next_follow_up_date.isoformat()},
        )
    return transfer_id


async def transfers_of(conn: asyncpg.Connection, client_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM transfers WHERE client_id = $1 ORDER BY created_at DESC", client_id
    )


async def transfer_by_id(conn: asyncpg.Connection, transfer_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT t.*, c.code AS client_code, c.collector_id FROM transfers t"
        " JOIN clients c ON c.id = t.client_id WHERE t.id = $1",
        transfer_id,
    )


async def transfer_state(conn: asyncpg.Connection, transfer_id: UUID) -> str | None:
    return await conn.fetchval("SELECT state FROM transfers WHERE id = $1", transfer_id)


async def items_of_transfer(conn: asyncpg.Connection, transfer: asyncpg.Record) -> list[asyncpg.Record]:
    """The items handed over, with where they are now (still transferred, or back)."""
    return await conn.fetch(
        "SELECT i.*, i.dossier_id = $2 AS in_transfer FROM items i"
        " WHERE i.id = ANY($1::uuid[]) ORDER BY i.due_date, i.number",
        transfer["item_ids"], transfer["id"],
    )


async def history_of_transfer(conn: asyncpg.Connection, transfer_id: UUID) -> list[asyncpg.Record]:
    """F-33: the transfer's actions with who, when and the comment."""
    return await conn.fetch(
        "SELECT actor, action, comment, at FROM audit_log"
        " WHERE entity = 'transfer' AND entity_id = $1 ORDER BY at, id",
        str(transfer_id),
    )


async def open_transfers_by_state(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT state, count(*) AS n FROM transfers WHERE state <> 'closed' GROUP BY state"
    )


async def overdue_answers_by_agency(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT agency_code, count(*) FILTER (WHERE agency_answer_overdue) AS n"
        " FROM transfers WHERE state <> 'closed' GROUP BY agency_code"
    )
