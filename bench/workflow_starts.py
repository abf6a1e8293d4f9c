"""(b) Dossier workflow starts/s against bare starts of an empty workflow, on the same
Temporal server in the same run.

Baseline: M `EmptyWorkflow` starts on task queue `bench-empty`, with a worker running.
Dossier: M real `DossierWorkflow` starts (business-key ids, the workflow service's worker,
and the dossier service's worker with the activities and a database pool on its own task
queue, as in production) for M seeded clients, each with an active dossier and
one overdue invoice, so the first scenario step (an automatic email) is due at once.

Starts/s = M ÷ time until every `start_workflow` call was acknowledged, with at most
`concurrency` calls in flight. An untimed warm-up of empty workflows comes first; then
each round runs the baseline and the dossiers on fresh workflows, and the reported rates
are the medians over the rounds (one ~2 s window is noisy on a small machine). For the
dossiers the bench also waits until each one has opened its first intervention (a row
in `interventions`), and reports that as first interventions/s from the same start,
against a second baseline: a bare workflow running as many no-op activities as a dossier's
first step, on the same worker settings (`ActivitiesWorkflow`). The longest workflow task
of a sample of each run's histories is reported beside it (the goal: none over 1 s). The
email steps then wait for a notifier outcome that never comes; the stack is discarded
afterwards, so nothing is cancelled."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

import asyncpg
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from bench.empty_workflow import FIRST_STEP_ACTIVITIES, ActivitiesWorkflow, EmptyWorkflow, noop
from bench.report import Comparison, Throughput, median_throughput, ratio
from relance import search_attributes as sa
from relance.contracts.dossier import DossierWorkflowInput
from relance.db import create_pool
from relance.workflow_ids import dossier_workflow_id
from relance_dossier import worker as dossier_worker
from relance_dossier.settings import Settings as DossierSettings
from relance_workflow import worker as workflow_worker
from relance_workflow.settings import Settings
from relance_workflow.workflows.dossier import DossierWorkflow

EMPTY_TASK_QUEUE = "bench-empty"
ACTIVITIES_TASK_QUEUE = "bench-activities"
NOOP_ACTIVITY_QUEUE = "bench-activities-work"
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class SeededDossier:
    client_id: UUID
    client_code: str
    dossier_id: UUID


async def start_all(
    starts: list[Callable[[], Awaitable[WorkflowHandle]]], concurrency: int
) -> tuple[list[WorkflowHandle], float]:
    """Run every start with at most `concurrency` in flight; the seconds until all were
    acknowledged by the server."""
    gate = asyncio.Semaphore(concurrency)

    async def one(start: Callable[[], Awaitable[WorkflowHandle]]) -> WorkflowHandle:
        async with gate:
            return await start()

    began = time.perf_counter()
    handles = await asyncio.gather(*(one(s) for s in starts))
    return list(handles), time.perf_counter() - began


async def run_empty(client: Client, workflows: int, concurrency: int) -> dict:
    run_tag = uuid.uuid4().hex[:8]
    async with Worker(client, task_queue=EMPTY_TASK_QUEUE, workflows=[EmptyWorkflow]):
        starts = [
            (lambda i=i: client.start_workflow(
                EmptyWorkflow.run, id=f"bench-empty-{run_tag}-{i}", task_queue=EMPTY_TASK_QUEUE
            ))
            for i in range(workflows)
        ]
        began = time.perf_counter()
        handles, start_seconds = await start_all(starts, concurrency)
        # Not part of the rate: let them all finish so the next phase has the server alone.
        gate = asyncio.Semaphore(concurrency)

        async def result(handle: WorkflowHandle) -> None:
            async with gate:
                await handle.result()

        await asyncio.gather(*(result(h) for h in handles))
        completed_seconds = time.perf_counter() - began
    return {"start_seconds": start_seconds, "completed_seconds": completed_seconds}


async def run_activities_baseline(
    client: Client, settings: Settings, workflows: int, concurrency: int
) -> dict:
    """The first-interventions baseline: `ActivitiesWorkflow` (as many no-op activities as
    a dossier's first step) under the workflow service's own worker settings, its
    activities on a second queue with a worker of their own, as the dossier's are. Timed
    from the first start until every workflow completed."""
    run_tag = uuid.uuid4().hex[:8]
    async with (
        workflow_worker.build_worker(client, settings, workflows=[ActivitiesWorkflow],
                                     task_queue=ACTIVITIES_TASK_QUEUE),
        Worker(client, task_queue=NOOP_ACTIVITY_QUEUE, activities=[noop]),
    ):
        starts = [
            (lambda i=i: client.start_workflow(
                ActivitiesWorkflow.run, NOOP_ACTIVITY_QUEUE,
                id=f"bench-activities-{run_tag}-{i}", task_queue=ACTIVITIES_TASK_QUEUE,
            ))
            for i in range(workflows)
        ]
        began = time.perf_counter()
        handles, _ = await start_all(starts, concurrency)
        await asyncio.gather(*(h.result() for h in handles))
        seconds = time.perf_counter() - began
    return {"completed_seconds": seconds, "workflow_ids": [h.id for h in handles]}


async def longest_workflow_tasks(client: Client, workflow_ids: list[str], sample: int = 50) -> float:
    """The longest workflow task (started → completed in the histories: the worker's own
    time, not the wait in the queue) over a sample of the run's workflows: the issue's
    "no workflow task over 1 s"."""
    longest = 0.0
    for workflow_id in workflow_ids[:sample]:
        started_at = None
        async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
            if event.HasField("workflow_task_started_event_attributes"):
                started_at = event.event_time.ToDatetime()
            elif event.HasField("workflow_task_completed_event_attributes") and started_at:
                longest = max(longest, (event.event_time.ToDatetime() - started_at).total_seconds())
                started_at = None
    return longest


async def seed_dossiers(pool: asyncpg.Pool, count: int) -> list[SeededDossier]:
    """`count` clients, each with an active open dossier and one invoice 30 days overdue."""
    run_tag = uuid.uuid4().hex[:8]
    seeded = [
        SeededDossier(uuid.uuid4(), f"BENCH-{run_tag}-{i:05d}", uuid.uuid4()) for i in range(count)
    ]
    due = date.today() - timedelta(days=30)
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            "INSERT INTO clients (id, code, name) VALUES ($1, $2, $3)",
            [(s.client_id, s.client_code, f"Bench client {s.client_code}") for s in seeded],
        )
        await conn.executemany(
            "INSERT INTO dossiers (id, client_id, kind, state) VALUES ($1, $2, 'active', 'open')",
            [(s.dossier_id, s.client_id) for s in seeded],
        )
        await conn.executemany(
            "INSERT INTO items (id, client_id, dossier_id, kind, number, due_date, amount,"
            " open_amount, currency) VALUES ($1, $2, $3, 'invoice', $4, $5, $6, $6, 'EUR')",
            [
                (uuid.uuid4(), s.client_id, s.dossier_id, f"F-{i:06d}", due, Decimal("1250.00"))
                for i, s in enumerate(seeded)
            ],
        )
    return seeded


async def wait_for_first_interventions(
    pool: asyncpg.Pool, dossier_ids: list[UUID], timeout: float
) -> float:
    """Block until every dossier has an intervention; returns the perf_counter moment."""
    deadline = time.monotonic() + timeout
    while True:
        opened = await pool.fetchval(
            "SELECT count(DISTINCT dossier_id) FROM interventions WHERE dossier_id = ANY($1::uuid[])",
            dossier_ids,
        )
        if opened >= len(dossier_ids):
            return time.perf_counter()
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{opened}/{len(dossier_ids)} dossiers opened an intervention within {timeout:.0f}s"
            )
        await asyncio.sleep(POLL_SECONDS)


async def run_dossiers(
    client: Client, pool: asyncpg.Pool, settings: Settings, workflows: int, concurrency: int,
    timeout: float,
) -> dict:
    seeded = await seed_dossiers(pool, workflows)
    awaiting_before = await count_awaiting(client)
    dossier_settings = DossierSettings(
        temporal_dossier_task_queue=settings.temporal_dossier_task_queue)
    async with (
        workflow_worker.build_worker(client, settings),
        dossier_worker.build_worker(client, pool, dossier_settings),
    ):
        starts = [
            (lambda s=s: client.start_workflow(
                DossierWorkflow.run,
                DossierWorkflowInput(
                    dossier_id=s.dossier_id, client_id=s.client_id, client_code=s.client_code,
                    dossier_task_queue=settings.temporal_dossier_task_queue,
                ),
                id=dossier_workflow_id(s.dossier_id),
                task_queue=settings.temporal_task_queue,
            ))
            for s in seeded
        ]
        began = time.perf_counter()
        _, start_seconds = await start_all(starts, concurrency)
        opened_at = await wait_for_first_interventions(
            pool, [s.dossier_id for s in seeded], timeout
        )
        # Untimed: let every workflow take in its activity result before the worker goes,
        # so no leftover workflow task lands on the next round.
        settled = await wait_until_awaiting(client, awaiting_before + workflows, timeout)
    return {
        "start_seconds": start_seconds,
        "first_intervention_seconds": opened_at - began,
        "settled": settled,
        "longest_task_seconds": await longest_workflow_tasks(
            client, [dossier_workflow_id(s.dossier_id) for s in seeded]),
    }


AWAITING_QUERY = f"WorkflowType = 'DossierWorkflow' AND {sa.DOSSIER_STATE.name} = 'awaiting'"


async def count_awaiting(client: Client) -> int:
    return (await client.count_workflows(AWAITING_QUERY)).count


async def wait_until_awaiting(client: Client, expected: int, timeout: float) -> bool:
    """True once `expected` dossier workflows wait on their open intervention; False if
    that did not happen within `timeout` (the bench goes on, the round is marked)."""
    deadline = time.monotonic() + timeout
    while await count_awaiting(client) < expected:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def run(
    temporal_address: str,
    database_url: str,
    kafka_bootstrap_servers: str,
    *,
    workflows: int,
    concurrency: int = 50,
    rounds: int = 3,
    warm_up: int = 50,
    timeout: float | None = None,
) -> tuple[Comparison, Comparison]:
    """An untimed warm-up, then `rounds` rounds of (empty baseline, activities baseline,
    dossiers), each with fresh workflows. Rates are the medians over the rounds; returns
    the starts comparison and the first interventions against the activities baseline."""
    timeout = timeout if timeout is not None else max(120.0, workflows / 2)
    client = await Client.connect(temporal_address, data_converter=pydantic_data_converter)
    settings = Settings(
        temporal_address=temporal_address,
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap_servers,
    )
    if warm_up:
        await run_empty(client, warm_up, concurrency)
    per_round = []
    pool = await create_pool(database_url, schema="dossier", min_size=2, max_size=10)
    try:
        for _ in range(rounds):
            empty = await run_empty(client, workflows, concurrency)
            activities = await run_activities_baseline(client, settings, workflows, concurrency)
            empty["activities_seconds"] = activities["completed_seconds"]
            empty["activities_longest_task_seconds"] = await longest_workflow_tasks(
                client, activities["workflow_ids"])
            dossiers = await run_dossiers(client, pool, settings, workflows, concurrency, timeout)
            per_round.append((empty, dossiers))
    finally:
        await pool.close()
    empty_runs = [Throughput("empty workflow", workflows, e["start_seconds"], "starts")
                  for e, _ in per_round]
    dossier_runs = [Throughput("dossier starts", workflows, d["start_seconds"], "starts")
                    for _, d in per_round]
    first_runs = [Throughput("first interventions", workflows, d["first_intervention_seconds"],
                             "dossiers") for _, d in per_round]
    first = median_throughput(first_runs)
    baseline_runs = [Throughput(f"bare workflow, {FIRST_STEP_ACTIVITIES} no-op activities",
                                workflows, e["activities_seconds"], "dossiers") for e, _ in per_round]
    first_comparison = Comparison(
        name="first_interventions",
        subject=first,
        baseline=median_throughput(baseline_runs),
        extra={
            "longest_workflow_task_seconds": round(max(d["longest_task_seconds"] for _, d in per_round), 4),
            "baseline_longest_workflow_task_seconds": round(
                max(e["activities_longest_task_seconds"] for e, _ in per_round), 4),
            "activities_per_workflow": FIRST_STEP_ACTIVITIES,
        },
    )
    comparison = Comparison(
        name="workflows",
        subject=median_throughput(dossier_runs),
        baseline=median_throughput(empty_runs),
        extra={
            "concurrency": concurrency,
            "rounds": rounds,
            "warm_up_workflows": warm_up,
            "task_queue": settings.temporal_task_queue,
            "dossier_task_queue": settings.temporal_dossier_task_queue,
            "first_interventions": first.as_dict(),
            "per_round": [
                {
                    "empty_start_seconds": round(e["start_seconds"], 4),
                    "empty_completed_seconds": round(e["completed_seconds"], 4),
                    "dossier_start_seconds": round(d["start_seconds"], 4),
                    "first_intervention_seconds": round(d["first_intervention_seconds"], 4),
                    "activities_baseline_seconds": round(e["activities_seconds"], 4),
                    "longest_workflow_task_seconds": round(d["longest_task_seconds"], 4),
                    "settled": d["settled"],
                    "ratio": round(ratio(dr, er), 4) if ratio(dr, er) is not None else None,
                }
                for (e, d), er, dr in zip(per_round, empty_runs, dossier_runs, strict=True)
            ],
        },
    )
    return comparison, first_comparison
