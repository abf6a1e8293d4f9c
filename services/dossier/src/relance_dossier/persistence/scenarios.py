"""SQL for scenarios (versioned, F-9) and templates (F-18)."""

import json
from uuid import UUID

import asyncpg

from relance_dossier.persistence.clients import record_audit


async def template_channels(conn: asyncpg.Connection) -> dict[str, str]:
    return {r["code"]: r["channel"] for r in await conn.fetch("SELECT code, channel FROM templates")}


async def latest_scenarios(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT DISTINCT ON (code) * FROM scenarios ORDER BY code, version DESC"
    )


async def scenario(conn: asyncpg.Connection, code: str, version: int | None = None):
    if version is None:
        return await conn.fetchrow(
            "SELECT * FROM scenarios WHERE code = $1 ORDER BY version DESC LIMIT 1", code
        )
    return await conn.fetchrow(
        "SELECT * FROM scenarios WHERE code = $1 AND version = $2", code, version
    )


async def versions(conn: asyncpg.Connection, code: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM scenarios WHERE code = $1 ORDER BY version", code)


async def save_version(
    conn: asyncpg.Connection, *, code: str, name: str, steps: list[dict], is_default: bool,
    actor: str, comment: str | None,
) -> asyncpg.Record:
    """A new version (1 for a new code); running dossiers keep the version they pinned.
    Call inside a transaction."""
    # Serialise edits of one scenario so two editors never write the same version.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('scenario:' || $1))", code)
    version = await conn.fetchval(
        "SELECT COALESCE(max(version), 0) + 1 FROM scenarios WHERE code = $1", code
    )
    # One default scenario (F-9): the flag belongs to the code, carried by its versions.
    await conn.execute(
        "UPDATE scenarios SET is_default = false WHERE is_default"
        " AND CASE WHEN $2 THEN code <> $1 ELSE code = $1 END",
        code, is_default,
    )
    row = await conn.fetchrow(
        "INSERT INTO scenarios (code, version, name, steps, is_default)"
        " VALUES ($1, $2, $3, $4::text::jsonb, $5) RETURNING *",
        code, version, name, json.dumps(steps), is_default,
    )
    await record_audit(conn, client_id=None, actor=actor, action="create" if version == 1 else
                       "new_version", entity="scenario", entity_id=f"{code}@{version}",
                       comment=comment)
    return row


async def templates(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every version of every template, a code's versions together (F-39)."""
    return await conn.fetch("SELECT * FROM templates ORDER BY code, locale")


async def template(conn: asyncpg.Connection, code: str, locale: str | None = None,
                   fallback: str = "fr"):
    """The version of `locale`; without one, the fallback locale's, else the first (F-39)."""
    if locale is not None:
        return await conn.fetchrow(
            "SELECT * FROM templates WHERE code = $1 AND locale = $2", code, locale
        )
    return await conn.fetchrow(
        "SELECT * FROM templates WHERE code = $1 ORDER BY locale <> $2, locale LIMIT 1",
        code, fallback,
    )


async def template_channel(conn: asyncpg.Connection, code: str) -> str | None:
    """The channel of a template's versions (all of a code's versions share it), or None
    when the code has none."""
    return await conn.fetchval("SELECT channel FROM templates WHERE code = $1 LIMIT 1", code)


async def upsert_template(conn: asyncpg.Connection, *, code: str, channel: str, locale: str,
                          subject: str, body: str, actor: str, create: bool) -> asyncpg.Record | None:
    """The version of `locale` of a template (F-39): `create` adds it (None when it
    exists), else it is written whether it existed or not (a new translation)."""
    if create:
        row = await conn.fetchrow(
            "INSERT INTO templates (code, channel, locale, subject, body) VALUES ($1,$2,$3,$4,$5)"
            " ON CONFLICT (code, locale) DO NOTHING RETURNING *", code, channel, locale, subject, body,
        )
    else:
        row = await conn.fetchrow(
            "INSERT INTO templates (code, channel, locale, subject, body) VALUES ($1,$2,$3,$4,$5)"
            " ON CONFLICT (code, locale) DO UPDATE SET channel = EXCLUDED.channel,"
            " subject = EXCLUDED.subject, body = EXCLUDED.body, updated_at = now() RETURNING *",
            code, channel, locale, subject, body,
        )
    if row is not None:
        await record_audit(conn, client_id=None, actor=actor, action="create" if create else "update",
                           entity="template", entity_id=f"{code}/{locale}")
    return row


async def template_in_use(conn: asyncpg.Connection, code: str) -> str | None:
    """The first scenario version whose steps use the template, if any."""
    return await conn.fetchval(
        "SELECT code || ' v' || version FROM scenarios s, jsonb_array_elements(s.steps) st"
        " WHERE st->>'template_code' = $1 LIMIT 1", code,
    )


async def template_locales(conn: asyncpg.Connection, code: str) -> list[str]:
    return [r["locale"] for r in await conn.fetch(
        "SELECT locale FROM templates WHERE code = $1 ORDER BY locale", code)]


async def delete_template(conn: asyncpg.Connection, code: str, actor: str,
                          locale: str | None = None) -> bool:
    """Every version of the template, or the version of `locale` only (F-39)."""
    deleted = await conn.fetchval(
        "WITH d AS (DELETE FROM templates WHERE code = $1 AND ($2::text IS NULL OR locale = $2)"
        " RETURNING 1) SELECT count(*) > 0 FROM d", code, locale,
    )
    if deleted:
        await record_audit(conn, client_id=None, actor=actor, action="delete", entity="template",
                           entity_id=code if locale is None else f"{code}/{locale}")
    return bool(deleted)


async def set_client_scenario(conn: asyncpg.Connection, client_id: UUID, scenario_code: str | None,
                              actor: str, comment: str | None) -> None:
    await conn.execute(
        "UPDATE clients SET scenario_code = $2, updated_at = now(), version = version + 1"
        " WHERE id = $1", client_id, scenario_code,
    )
    await record_audit(conn, client_id=client_id, actor=actor, action="set_scenario",
                       entity="client", entity_id=str(client_id), comment=comment,
                       details={"scenario_code": scenario_code})
