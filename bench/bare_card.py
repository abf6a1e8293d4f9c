"""The bare baseline of the client card at scale: FastAPI + asyncpg reading the same rows as
`GET /clients/{code}` (the client, its dossiers, the open-items summary, one page of open
items, its contacts and channels, pending interventions and actions, notes, attachments),
with no auth, no models and no audit: one connection pool, plain SQL, rows as JSON.

Run as its own process, like the dossier API: `DATABASE_URL=… uvicorn bench.bare_card:app`."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, HTTPException
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

READS = (
    "SELECT * FROM dossiers WHERE client_id = $1",
    "SELECT count(*), sum(open_amount) FROM items WHERE client_id = $1 AND open_amount <> 0",
    "SELECT * FROM items WHERE client_id = $1 AND open_amount <> 0 ORDER BY due_date LIMIT 50",
    "SELECT * FROM contacts WHERE client_id = $1",
    "SELECT * FROM contact_channels WHERE client_id = $1",
    "SELECT * FROM interventions WHERE client_id = $1 AND status = 'todo'",
    "SELECT * FROM specific_actions WHERE client_id = $1 AND status IN ('scheduled', 'todo')",
    "SELECT * FROM client_notes WHERE client_id = $1",
    "SELECT id, filename, content_type, size_bytes FROM attachments WHERE client_id = $1",
)


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.pool = await asyncpg.create_pool(
        os.environ["DATABASE_URL"], min_size=2, max_size=10,
        server_settings={"search_path": "dossier"})
    try:
        yield
    finally:
        await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/clients/{code}")
async def card(code: str) -> JSONResponse:
    async with app.state.pool.acquire() as conn:
        client = await conn.fetchrow("SELECT * FROM clients WHERE code = $1", code)
        if client is None:
            raise HTTPException(404)
        parts = [[dict(r) for r in await conn.fetch(sql, client["id"])] for sql in READS]
    return JSONResponse(jsonable_encoder({"client": dict(client), "parts": parts}))
