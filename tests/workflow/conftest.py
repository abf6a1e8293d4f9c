"""Workflow fixtures: the time-skipping Temporal test server (a 24 h timer runs in
milliseconds) with the workflow service's worker and, on its own task queue, the dossier
service's worker with the real activities against the session's PostgreSQL."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from relance import search_attributes
from relance.db import create_pool
from relance_dossier import worker as dossier_worker
from relance_dossier.settings import Settings as DossierSettings
from relance_workflow import worker as workflow_worker
from relance_workflow.settings import Settings as WorkflowSettings
from tests.stack import SEARCH_PATH, TestStack


@dataclass(frozen=True)
class Queues:
    workflows: str  # the workflow service's worker: the workflows
    dossier: str  # the dossier service's worker: the activities (a workflow input names it)


@asynccontextmanager
async def workers(client: Client, pool: asyncpg.Pool, name: str) -> AsyncIterator[Queues]:
    """Both services' workers as they run in production, each on a task queue of this
    test's own so that no other worker of the session picks its tasks."""
    suffix = uuid4().hex[:6]
    queues = Queues(f"{name}-{suffix}", f"{name}-dossier-{suffix}")
    async with (
        workflow_worker.build_worker(client, WorkflowSettings(temporal_task_queue=queues.workflows)),
        # Every day a working day, so the timers fire on the days the tests compute whatever
        # the weekday they run on (the working-day rule: tests/shared/test_planning.py).
        dossier_worker.build_worker(
            client, pool, DossierSettings(temporal_dossier_task_queue=queues.dossier,
                                          business_days=list(range(1, 8)))),
    ):
        yield queues


def _binary(name: str) -> str:
    return shutil.which(name) or str(Path(sys.executable).parent / name)


@pytest.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """One time-skipping server per test module: a module's workers stop with it, and a
    workflow it leaves waiting on a timer must not hold the next module's clock."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=_binary("temporal-test-server"),
    )
    try:
        await search_attributes.register(env.client)
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def pool(stack: TestStack) -> AsyncIterator[asyncpg.Pool]:
    db = await create_pool(stack.database_url, schema=SEARCH_PATH, max_size=6)
    try:
        yield db
    finally:
        await db.close()


async def seed_dossier(
    pool: asyncpg.Pool,
    invoices: list[tuple[date, Decimal]],
    scenario_code: str | None = None,
) -> tuple[UUID, UUID, str]:
    """A client with its active dossier and open invoices, written straight to the tables
    (no outbox events, so no other consumer of the session reacts to it)."""
    client_id, dossier_id, code = uuid4(), uuid4(), f"WF-{uuid4().hex[:10]}"
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO clients (id, code, name, scenario_code) VALUES ($1, $2, $3, $4)",
            client_id, code, f"Client {code}", scenario_code,
        )
        await conn.execute(
            "INSERT INTO dossiers (id, client_id, kind) VALUES ($1, $2, 'active')",
            dossier_id, client_id,
        )
        await conn.executemany(
            "INSERT INTO items (id, client_id, dossier_id, kind, number, due_date, amount,"
            " open_amount) VALUES ($1, $2, $3, 'invoice', $4, $5, $6, $6)",
            [(uuid4(), client_id, dossier_id, f"F-{n}", due, amount)
             for n, (due, amount) in enumerate(invoices)],
        )
    return client_id, dossier_id, code
