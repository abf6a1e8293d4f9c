"""asyncpg pools. DATABASE_URL is a libpq URL; a unix-socket server is written with a
`host=/socket/dir` query parameter, which asyncpg understands as well."""

import json

import asyncpg


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def create_pool(
    database_url: str, *, schema: str | None = None, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    """A pool whose connections see `schema` first (`search_path`): each service names its
    own schema, so its SQL names its tables without one."""
    server_settings = {"search_path": schema} if schema else None
    return await asyncpg.create_pool(
        database_url, min_size=min_size, max_size=max_size, init=_init_connection,
        server_settings=server_settings,
    )


def sqlalchemy_url(database_url: str) -> str:
    """The same server as a SQLAlchemy URL with the asyncpg driver (used by Alembic)."""
    scheme, _, rest = database_url.partition("://")
    return f"postgresql+asyncpg://{rest}"
