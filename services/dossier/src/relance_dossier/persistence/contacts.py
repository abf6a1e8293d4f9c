"""SQL for a client's contacts and their channels (F-21, F-22).

Every change takes the client row's lock first, so two concurrent changes of one client's
channels (two "make default" on the same type) run one after the other, and the partial
unique index on the default channel never sees two defaults."""

from typing import Any
from uuid import UUID, uuid4

import asyncpg

from relance.events import ContactChannelAdded, ContactChannelChanged, ContactCreated, ContactUpdated
from relance.outbox import write_events
from relance_dossier.domain.contacts import ChannelStatus
from relance_dossier.persistence.clients import record_audit


async def lock_client(conn: asyncpg.Connection, client_id: UUID) -> None:
    await conn.execute("SELECT 1 FROM clients WHERE id = $1 FOR UPDATE", client_id)


async def contact_of_client(
    conn: asyncpg.Connection, client_id: UUID, contact_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM contacts WHERE id = $1 AND client_id = $2", contact_id, client_id
    )


async def channel_of_contact(
    conn: asyncpg.Connection, client_id: UUID, contact_id: UUID, channel_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM contact_channels WHERE id = $1 AND contact_id = $2 AND client_id = $3",
        channel_id, contact_id, client_id,
    )


async def contact_with_channels(
    conn: asyncpg.Connection, contact_id: UUID, include_invalid: bool = True
) -> dict[str, Any]:
    contact = await conn.fetchrow("SELECT * FROM contacts WHERE id = $1", contact_id)
    channels = await conn.fetch(
        "SELECT * FROM contact_channels WHERE contact_id = $1 AND ($2 OR state <> 'invalid')"
        " ORDER BY created_at, id",
        contact_id, include_invalid,
    )
    return {**dict(contact), "channels": [dict(ch) for ch in channels]}


async def _drop_other_default(
    conn: asyncpg.Connection, *, client_id: UUID, channel_type: str, keep: UUID, actor: str
) -> list:
    """F-21: the previous default of this type stops being it, in the caller's transaction."""
    previous = await conn.fetchrow(
        "UPDATE contact_channels SET is_default = false, updated_at = now()"
        " WHERE client_id = $1 AND type = $2 AND is_default AND id <> $3"
        " RETURNING id, contact_id, type, state",
        client_id, channel_type, keep,
    )
    if previous is None:
        return []
    await record_audit(
        conn, client_id=client_id, actor=actor, action="default-moved", entity="contact_channel",
        entity_id=str(previous["id"]),
        details={"type": channel_type, "from": "validated+default", "to": previous["state"],
                 "new_default": str(keep)},
    )
    return [
        ContactChannelChanged(
            channel_id=previous["id"], contact_id=previous["contact_id"], client_id=client_id,
            type=channel_type, action="default-moved", state=previous["state"], is_default=False,
        ).envelope(aggregate_id=previous["contact_id"], client_id=client_id, actor=actor)
    ]


async def _insert_channel(
    conn: asyncpg.Connection, *, client_id: UUID, contact_id: UUID, channel: Any, actor: str
) -> tuple[UUID, list]:
    channel_id = uuid4()
    events = []
    if channel.is_default:
        events += await _drop_other_default(
            conn, client_id=client_id, channel_type=channel.type, keep=channel_id, actor=actor
        )
    await conn.execute(
        "INSERT INTO contact_channels (id, contact_id, client_id, type, value, state, is_default)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        channel_id, contact_id, client_id, channel.type, channel.value, channel.state,
        channel.is_default,
    )
    events.append(
        ContactChannelAdded(
            channel_id=channel_id, contact_id=contact_id, client_id=client_id, type=channel.type,
            state=channel.state, is_default=channel.is_default,
        ).envelope(aggregate_id=contact_id, client_id=client_id, actor=actor)
    )
    return channel_id, events


async def create_contact(
    conn: asyncpg.Connection, *, client_id: UUID, contact: Any, actor: str, comment: str | None
) -> UUID:
    """F-22: a new contact with its channels; one transaction with its audit and events."""
    contact_id = uuid4()
    async with conn.transaction():
        await lock_client(conn, client_id)
        await conn.execute(
            "INSERT INTO contacts (id, client_id, name, observation, language)"
            " VALUES ($1, $2, $3, $4, $5)",
            contact_id, client_id, contact.name, contact.observation, contact.language,
        )
        events = [
            ContactCreated(contact_id=contact_id, client_id=client_id, name=contact.name)
            .envelope(aggregate_id=contact_id, client_id=client_id, actor=actor)
        ]
        for channel in contact.channels:
            _, channel_events = await _insert_channel(
                conn, client_id=client_id, contact_id=contact_id, channel=channel, actor=actor
            )
            events += channel_events
        await write_events(conn, events)
        await record_audit(
            conn, client_id=client_id, actor=actor, action="create", entity="contact",
            entity_id=str(contact_id), comment=comment,
            details={"name": contact.name, "channels": len(contact.channels)},
        )
    return contact_id


async def update_contact(
    conn: asyncpg.Connection, *, client_id: UUID, contact_id: UUID, changes: dict[str, Any],
    actor: str, comment: str | None,
) -> None:
    """F-22: name, observation and language (F-39); only what really changed is recorded."""
    async with conn.transaction():
        await lock_client(conn, client_id)
        current = await conn.fetchrow(
            "SELECT name, observation, language FROM contacts WHERE id = $1 FOR UPDATE", contact_id
        )
        changed = {k: v for k, v in changes.items() if current[k] != v}
        if not changed:
            return
        await conn.execute(
            "UPDATE contacts SET name = $2, observation = $3, language = $4, updated_at = now()"
            " WHERE id = $1",
            contact_id, changed.get("name", current["name"]),
            changed.get("observation", current["observation"]),
            changed.get("language", current["language"]),
        )
        await write_events(conn, [
            ContactUpdated(contact_id=contact_id, client_id=client_id, changed=changed)
            .envelope(aggregate_id=contact_id, client_id=client_id, actor=actor)
        ])
        await record_audit(
            conn, client_id=client_id, actor=actor, action="update", entity="contact",
            entity_id=str(contact_id), comment=comment,
            details={k: {"from": current[k], "to": v} for k, v in changed.items()},
        )


async def add_channel(
    conn: asyncpg.Connection, *, client_id: UUID, contact_id: UUID, channel: Any, actor: str,
    comment: str | None,
) -> UUID:
    async with conn.transaction():
        await lock_client(conn, client_id)
        channel_id, events = await _insert_channel(
            conn, client_id=client_id, contact_id=contact_id, channel=channel, actor=actor
        )
        await write_events(conn, events)
        await record_audit(
            conn, client_id=client_id, actor=actor, action="create", entity="contact_channel",
            entity_id=str(channel_id), comment=comment,
            details={"contact_id": str(contact_id), "type": channel.type, "state": channel.state,
                     "is_default": channel.is_default},
        )
    return channel_id


async def change_channel(
    conn: asyncpg.Connection, *, client_id: UUID, contact_id: UUID, channel_id: UUID,
    action: str, value: str, state: str, is_default: bool, previous: asyncpg.Record,
    actor: str, comment: str | None,
) -> None:
    """Write a channel's new value/status (decided by the domain rules on `previous`) with
    its audit and events; making it the default first takes the flag from the previous
    default. Call inside the transaction that took `lock_client` and read `previous`."""
    events = []
    if is_default and not previous["is_default"]:
        events += await _drop_other_default(
            conn, client_id=client_id, channel_type=previous["type"], keep=channel_id,
            actor=actor,
        )
    await conn.execute(
        "UPDATE contact_channels SET value = $2, state = $3, is_default = $4,"
        " updated_at = now() WHERE id = $1",
        channel_id, value, state, is_default,
    )
    events.append(
        ContactChannelChanged(
            channel_id=channel_id, contact_id=contact_id, client_id=client_id,
            type=previous["type"], action=action, state=state, is_default=is_default,
        ).envelope(aggregate_id=contact_id, client_id=client_id, actor=actor)
    )
    await write_events(conn, events)
    details: dict[str, Any] = {
        "contact_id": str(contact_id), "type": previous["type"],
        "from": ChannelStatus(previous["state"], previous["is_default"]).label,
        "to": ChannelStatus(state, is_default).label,
    }
    if value != previous["value"]:
        details["value_changed"] = True
    await record_audit(
        conn, client_id=client_id, actor=actor, action=action, entity="contact_channel",
        entity_id=str(channel_id), comment=comment, details=details,
    )

