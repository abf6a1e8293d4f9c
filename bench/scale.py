"""`python -m bench --scale`: the paths that matter at the size of a large finance
organisation (issue 11), on the embedded stack with every service running.

1. Load: N clients (10 segments) and M items through the ERP import path (F-3), in
   chunks, before the services start. The import's own events are then dropped:
   the bridge would otherwise open one dossier workflow per client (a day of workflow
   starts at a million clients), which the first-interventions bench measures; this run
   measures reads, commands and transfer windows at this size. The database is then
   vacuumed and analysed, as after any bulk load, so that no phase shares the machine
   with autovacuum's pass over the loaded tables.
2. The client card through the dossier API (F-1, F-2), against a bare FastAPI + asyncpg
   process reading the same rows (`bench.bare_card`): latency at a steady rate (p50, p99,
   measured from each request's scheduled moment, so a stall counts), and the sustained
   throughput of both with the same number of requests in flight.
3. A collector's agenda (F-14) over 10,000 clients with an action each: p50, p95; then
   the console (F-35) as that collector's user: the agenda page and the card pages of a
   hundred of their clients, p95 of the console's server time.
4. A search by 5,000 pasted codes (F-5), and a mass assignment of one segment (100,000
   clients at full size, F-5) timed end to end; the KPIs (F-36) over every client, as
   the dashboard asks for them: p50, p95; the exports (F-40) of a segment's aging report,
   the agenda and the search's results, read to their end: first byte, whole, size.
5. Transfer windows (F-27): transfers with the product's 24-hour window, then (the
   dossier service restarted with a short window, as a deploy would: the window is
   fixed when a transfer is created) a burst created
   within one minute, all held open by the embedded Temporal server; when the burst's
   windows end, the lag from each window's end to its placement (p50, p99), and the peak
   memory of the workflow worker and of the dossier worker (their processes' high-water
   mark). The others stay open to the end.
   Its bare baseline, once the transfers are placed: as many bare workflows as the burst,
   each a timer ending `bare_window_seconds` after its start then one no-op activity
   (`bench.empty_workflow.WindowWorkflow`), on the same Temporal server under the workflow
   service's worker settings: the lag the server and a worker give by themselves."""

from __future__ import annotations

import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import asyncpg
import httpx

from bench.console_pages import page_times, percentile, signed_in
from bench.import_bench import import_csv
from relance.db import create_pool

SEGMENTS = 10
AGENDA_CLIENTS = 10_000
SEARCH_CODES = 5_000
KPI_CALLS = 20
TRANSFER_ATTEMPTS = 6
KPI_REFRESH_WAIT_SECONDS = 600
PRODUCT_WINDOW_SECONDS = 86_400  # F-27
# The workflow worker's polls for a deployment where thousands of windows end together
# (see `workflow_task_pollers` in the workflow service's settings): the workflow service
# and the windows' bare baseline both run with them.
MASS_WINDOW_POLLS: dict[str, float] = {"workflow_task_pollers": 10, "workflow_nonsticky_poll_ratio": 0.5}
COLLECTOR = "SCALE-A"
CONSOLE_USER, CONSOLE_PASSWORD = "scale.collector", "scale-collector-pass"
CONSOLE_CARDS = 100  # distinct clients of COLLECTOR whose card pages are loaded in turn
MASS_COLLECTOR = "SCALE-B"


@dataclass(frozen=True)
class ScaleOptions:
    clients: int = 1_000_000
    items: int = 10_000_000
    card_rate: float = 200.0
    card_seconds: float = 20.0
    in_flight: int = 16
    transfers: int = 20_000
    same_minute: int = 5_000
    window_seconds: int = 300
    bare_window_seconds: int = 120
    client_chunk: int = 100_000
    item_chunk: int = 1_000_000

    @classmethod
    def short(cls) -> ScaleOptions:
        """The suite's version: every path, small sizes."""
        return cls(clients=2_000, items=20_000, card_rate=50, card_seconds=3, transfers=120,
                   same_minute=60, window_seconds=25, bare_window_seconds=10, client_chunk=1_000,
                   item_chunk=10_000)


def client_code(n: int) -> str:
    return f"SC-{n:07d}"


def _latencies(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {"requests": len(ms), "p50_ms": round(statistics.median(ms), 2),
            "p95_ms": round(percentile(ms, 0.95), 2), "p99_ms": round(percentile(ms, 0.99), 2)}


# ---- 1. load through the import ---------------------------------------------------------


async def load(database_url: str, options: ScaleOptions, progress: Callable[[str], None]) -> dict:
    pool = await create_pool(database_url, schema="dossier", min_size=1, max_size=2)
    began = time.perf_counter()
    try:
        async with pool.acquire() as conn:
            for start in range(0, options.clients, options.client_chunk):
                stop = min(options.clients, start + options.client_chunk)
                text = "code,name,segment\n" + "".join(
                    f"{client_code(n)},Scale client {n},S{n % SEGMENTS}\n" for n in range(start, stop))
                await _import(conn, "clients", text)
            clients_seconds = time.perf_counter() - began
            progress(f"scale: {options.clients:,} clients imported in {clients_seconds:.0f} s")
            items_began = time.perf_counter()
            chunk_seconds = []
            file_phases: dict[str, dict[str, float]] = {}
            base = date.today() - timedelta(days=200)
            for start in range(0, options.items, options.item_chunk):
                stop = min(options.items, start + options.item_chunk)
                lines = ["client_code,kind,number,issue_date,due_date,amount,open_amount,currency"]
                for i in range(start, stop):
                    issued = base + timedelta(days=i % 240)
                    lines.append(f"{client_code(item_client(i, options))},invoice,S{i:09d},{issued},"
                                 f"{issued + timedelta(days=30)},{(i % 9_999) + 1}.{i % 100:02d},,EUR")
                phases: dict[str, float] = {}
                chunk_seconds.append(await _import(conn, "items", "\n".join(lines) + "\n", phases))
                file_phases.setdefault("first", phases)
                file_phases["last"] = phases
                progress(f"scale: {stop:,}/{options.items:,} items imported"
                         f" (this file: {chunk_seconds[-1]:.1f} s)")
            items_seconds = time.perf_counter() - items_began
            # See the module's docstring: the load's events are not replayed as workflows.
            # Nothing else has written to the outbox yet (the services start afterwards).
            await conn.execute("TRUNCATE outbox")
            # Vacuumed as after any bulk load, before anything is measured: left to
            # autovacuum, the vacuum of the 10M items ran during the API's card phase
            # and not the bare endpoint's (sampled in pg_stat_activity).
            # The flush first: this session's counts of the rows it inserted would
            # otherwise reach the statistics after the vacuum, as rows still to vacuum.
            await conn.execute("SELECT pg_stat_force_next_flush()")
            vacuum_began = time.perf_counter()
            await conn.execute("VACUUM (ANALYZE)")
            vacuum_seconds = time.perf_counter() - vacuum_began
            awaiting_vacuum = await conn.fetchval(
                "SELECT coalesce(sum(n_ins_since_vacuum + n_dead_tup), 0)::bigint FROM pg_stat_user_tables"
                " WHERE schemaname = 'dossier' AND relname IN ('clients', 'items')")
    finally:
        await pool.close()
    return {"clients": options.clients, "items": options.items,
            "clients_seconds": round(clients_seconds, 2), "items_seconds": round(items_seconds, 2),
            "items_per_second": round(options.items / items_seconds) if items_seconds else None,
            # The import's own time of each file (the first one: into an empty table).
            "item_file_seconds": [round(t, 2) for t in chunk_seconds],
            "item_file_rows": options.item_chunk,
            # Where a file's time goes, phase by phase (the import's own progress phases).
            "item_file_phases": file_phases,
            "vacuum_seconds": round(vacuum_seconds, 2),
            # Rows of the loaded tables that autovacuum would still come for (0 here).
            "rows_awaiting_vacuum": awaiting_vacuum}


def item_client(i: int, options: ScaleOptions) -> int:
    """The client of the i-th item: consecutive items share a client, so each file of the
    load covers a range of clients, as an ERP's ledger exported customer by customer (items
    dealt round-robin over every client made every file touch every client: ten events
    and audit entries per client instead of one, and each file's insert into the
    clients' index at random pages)."""
    return i * options.clients // options.items


async def _import(conn: asyncpg.Connection, kind: Literal["clients", "items"], text: str,
                  phases: dict[str, float] | None = None) -> float:
    """Returns the import's own seconds (raises unless every row was new and valid)."""
    seconds = await import_csv(conn, kind, text, phases)
    # Chunks back to back grow the tables faster than autovacuum analyses them: with the
    # statistics of an empty table, the next chunk's anti-join scans every client per row.
    await conn.execute("ANALYZE clients, dossiers, items")
    return seconds


# ---- 2. the client card against the bare endpoint ----------------------------------------


async def steady_rate(client: httpx.AsyncClient, paths: list[str], rate: float, seconds: float) -> dict:
    """Requests at a fixed rate, each timed from the moment it was due."""
    count = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    began = time.perf_counter()

    async def one(i: int) -> None:
        nonlocal errors
        due = began + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        try:
            response = await client.get(paths[i % len(paths)])
        except httpx.TransportError:
            errors += 1  # a user would have seen it fail: counted, the run goes on
            return
        if response.status_code != 200:
            errors += 1
        latencies.append(time.perf_counter() - due)

    await asyncio.gather(*(one(i) for i in range(count)))
    return {**_latencies(latencies), "rate": rate, "errors": errors}


async def sustained(client: httpx.AsyncClient, paths: list[str], in_flight: int, seconds: float) -> dict:
    """As many requests as answer with `in_flight` outstanding, for `seconds`."""
    done = errors = 0
    stop_at = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal done, errors
        i = offset
        while time.perf_counter() < stop_at:
            try:
                response = await client.get(paths[i % len(paths)])
                errors += response.status_code != 200
            except httpx.TransportError:
                errors += 1  # counted, the run goes on
            done += 1
            i += in_flight

    began = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(in_flight)))
    elapsed = time.perf_counter() - began
    return {"requests": done, "seconds": round(elapsed, 2), "rate": round(done / elapsed, 1), "errors": errors}


def start_bare_card(database_url: str, port: int, logs_dir: Path) -> subprocess.Popen:
    log = open(logs_dir / "bare-card.log", "wb")  # noqa: SIM115 - the process keeps it
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.bare_card:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env={**os.environ, "DATABASE_URL": database_url,
             "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        stdout=log, stderr=subprocess.STDOUT)


async def measure_card(api_url: str, token: str, bare_url: str, options: ScaleOptions) -> dict:
    codes = [client_code(random.randrange(options.clients)) for _ in range(2_000)]
    api_paths = [f"/clients/{c}?items_limit=50" for c in codes]
    bare_paths = [f"/clients/{c}" for c in codes]
    limits = httpx.Limits(max_connections=options.in_flight, max_keepalive_connections=options.in_flight)
    api_headers = {"Authorization": f"Bearer {token}"}

    async def phase(url: str, headers: dict[str, str], paths: list[str],
                    measure: Callable[[httpx.AsyncClient], Awaitable[dict]]) -> dict:
        # A client of its own per phase, warmed right before it: a connection left idle
        # through another phase is closed by its server (keep-alive timeout), and reusing
        # one as it closes fails the request.
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30, limits=limits) as client:
            for path in paths[:50]:
                (await client.get(path)).raise_for_status()
            return await measure(client)

    rate, seconds, in_flight = options.card_rate, options.card_seconds, options.in_flight
    result = {
        "steady": await phase(api_url, api_headers, api_paths,
                              lambda c: steady_rate(c, api_paths, rate, seconds)),
        "bare_steady": await phase(bare_url, {}, bare_paths,
                                   lambda c: steady_rate(c, bare_paths, rate, seconds)),
        "sustained": await phase(api_url, api_headers, api_paths,
                                 lambda c: sustained(c, api_paths, in_flight, seconds / 2)),
        "bare_sustained": await phase(bare_url, {}, bare_paths,
                                      lambda c: sustained(c, bare_paths, in_flight, seconds / 2)),
    }
    result["ratio"] = round(result["sustained"]["rate"] / result["bare_sustained"]["rate"], 4)
    return result


# ---- 3 and 4. agenda, search, mass assignment --------------------------------------------


async def timed(call: Callable[[], Awaitable[httpx.Response]], times: int) -> list[float]:
    latencies = []
    for _ in range(times):
        began = time.perf_counter()
        response = await call()
        response.raise_for_status()
        latencies.append(time.perf_counter() - began)
    return latencies


async def seed_agenda(database_url: str, api: httpx.AsyncClient, options: ScaleOptions) -> int:
    """COLLECTOR gets AGENDA_CLIENTS clients (the API's mass assignment by pasted codes),
    and each of those clients an intervention To do on its active dossier, like a
    scenario step that fell due (inserted in SQL: the agenda's read is what is measured)."""
    agenda_clients = min(AGENDA_CLIENTS, options.clients)
    codes = [client_code(n) for n in range(agenda_clients)]
    for collector in (COLLECTOR, MASS_COLLECTOR):
        (await api.post("/collectors", json={"code": collector, "name": collector})).raise_for_status()
    (await api.post("/assignment/mass", json={"collector_code": COLLECTOR, "codes": codes},
                    timeout=120)).raise_for_status()
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "dossier"})
    try:
        await conn.execute(
            "INSERT INTO interventions (id, dossier_id, client_id, action_type, mode, priority, due_at)"
            " SELECT gen_random_uuid(), d.id, c.id, 'call', 'manual', (random() * 3)::int,"
            " now() - (random() * interval '10 days')"
            " FROM clients c JOIN dossiers d ON d.client_id = c.id AND d.kind = 'active'"
            " WHERE c.code = ANY($1::text[])", codes)
        await conn.execute("ANALYZE interventions")
    finally:
        await conn.close()
    return agenda_clients


async def measure_commands(database_url: str, api_url: str, token: str, options: ScaleOptions) -> dict:
    async with httpx.AsyncClient(base_url=api_url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=300) as api:
        agenda_clients = await seed_agenda(database_url, api, options)
        agenda = await timed(lambda: api.get("/agenda", params={"collector": COLLECTOR, "limit": 50}), 100)
        codes = "\n".join(client_code(random.randrange(options.clients))
                          for _ in range(min(SEARCH_CODES, options.clients)))
        search = await timed(lambda: api.post("/clients/search", json={"codes": codes, "limit": 50}), 10)
        # F-36: the KPIs over every client, as an admin opening the dashboard sees them:
        # the first call computes them, the next ones read the figures kept.
        [computed] = await timed(lambda: api.get("/kpis"), 1)
        kpis = await timed(lambda: api.get("/kpis"), KPI_CALLS)
        began = time.perf_counter()
        mass = await api.post("/assignment/mass", json={"collector_code": MASS_COLLECTOR,
                                                        "criteria": {"segment": "S3"}})
        mass_seconds = time.perf_counter() - began
        mass.raise_for_status()
        # The mass assignment made the kept figures stale: served flagged meanwhile, how
        # long until the refresher has recomputed them.
        changed_at = time.perf_counter()
        stale_served = await timed(lambda: api.get("/kpis"), 1)
        refresh_seconds = None
        while time.perf_counter() - changed_at < KPI_REFRESH_WAIT_SECONDS:
            if (await api.get("/kpis")).json()["fresh"]:
                refresh_seconds = round(time.perf_counter() - changed_at, 2)
                break
            await asyncio.sleep(0.5)
        exports = await measure_exports(api, codes)
    return {
        "exports": exports,
        "agenda": {**_latencies(agenda), "clients": agenda_clients, "goal_p95_ms": 50},
        "search": {**_latencies(search), "codes": min(SEARCH_CODES, options.clients)},
        "kpis": {**_latencies(kpis), "clients": options.clients, "goal_p95_ms": 1000,
                 "computed_ms": round(computed * 1000, 2),
                 "stale_served_ms": round(stale_served[0] * 1000, 2),
                 "refreshed_after_change_s": refresh_seconds},
        "mass_assignment": {"clients": mass.json()["selected"], "changed": mass.json()["changed"],
                            "seconds": round(mass_seconds, 2), "goal_seconds": 10},
    }


async def streamed(api: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> dict:
    """One export read to its end as a client downloads it: the time to its first byte,
    to its last, its size and (CSV) its lines."""
    began = time.perf_counter()
    first_byte, size, lines = None, 0, 0
    async with api.stream(method, path, **kwargs) as response:
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            if first_byte is None:
                first_byte = time.perf_counter() - began
            size += len(chunk)
            lines += chunk.count(b"\n")
    return {"first_byte_ms": round((first_byte or 0) * 1000, 1),
            "whole_ms": round((time.perf_counter() - began) * 1000, 1), "bytes": size, "lines": lines}


async def measure_exports(api: httpx.AsyncClient, codes: str) -> dict:
    """F-40 at scale, streamed from a cursor: the aging report of one segment (a tenth of
    the clients) in CSV, the agenda collector's whole agenda in XLSX, and the results of the
    search by pasted codes in CSV."""
    return {
        "aging report of a segment (CSV)": await streamed(
            api, "GET", "/reports/aging", params={"format": "csv", "segment": "S3"}),
        "agenda (XLSX)": await streamed(
            api, "GET", "/agenda/export", params={"format": "xlsx", "collector": COLLECTOR}),
        "search by pasted codes (CSV)": await streamed(
            api, "POST", "/clients/search/export", params={"format": "csv"}, json={"codes": codes}),
    }


def measure_console_pages(api_url: str, token: str, console_url: str, options: ScaleOptions) -> dict:
    """The console (F-35) as COLLECTOR's user sees it once the agenda is seeded: the
    agenda page over their AGENDA_CLIENTS clients, and the card pages of CONSOLE_CARDS of
    those clients in turn; p95 of the console's server time (its calls to the API included)."""
    httpx.post(f"{api_url}/users", headers={"Authorization": f"Bearer {token}"}, timeout=30,
               json={"name": CONSOLE_USER, "role": "collector", "collector_code": COLLECTOR,
                     "password": CONSOLE_PASSWORD}).raise_for_status()
    agenda_clients = min(AGENDA_CLIENTS, options.clients)
    cards = [f"/clients/{client_code(n)}" for n in random.sample(range(agenda_clients),
                                                                 min(CONSOLE_CARDS, agenda_clients))]
    with signed_in(console_url, CONSOLE_USER, CONSOLE_PASSWORD) as console:
        # What the user sees, before it is timed: their clients on the agenda, a card's client.
        shown = set(re.findall(r"SC-\d{7}", console.get("/agenda").raise_for_status().text))
        card = console.get(cards[0]).raise_for_status().text
        assert cards[0].rsplit("/", 1)[1] in card, f"the card page {cards[0]} does not show its client"
        return {"client card": {**page_times(console, cards, 100), "clients": agenda_clients},
                "agenda": {**page_times(console, ["/agenda"], 100), "clients": agenda_clients,
                           "clients_shown": len(shown)}}


# ---- 5. transfer windows -------------------------------------------------------------------


async def workflow_backlog(temporal: Any, task_queue: str) -> int:
    """Workflow tasks waiting on `task_queue` (the server's approximate count)."""
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    described = await temporal.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
        namespace=temporal.namespace, task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, report_stats=True))
    return described.stats.approximate_backlog_count


def peak_memory_mib(pid: int) -> float | None:
    """The process's resident high-water mark (Linux), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


async def measure_transfers(database_url: str, temporal_address: str, api_url: str, token: str,
                            agency: str, options: ScaleOptions, open_with_short_window: Callable[[], None],
                            worker_pids: Callable[[], dict[str, int]],
                            progress: Callable[[str], None]) -> dict:
    """The others with the product's 24-hour window (F-27), then a burst of `same_minute`
    transfers (created within a minute) with the run's short window: the burst's windows
    end together while the others stay open; the lag of each of the burst's placements."""
    from temporalio.client import Client

    from relance.contracts.transfer import WORKFLOW_TYPE as TRANSFER_WORKFLOW_TYPE
    from relance.settings import CommonSettings

    conn = await asyncpg.connect(database_url, server_settings={"search_path": "dossier"})
    try:
        # One open item of a client per transfer, clients past the agenda's ones.
        first = min(AGENDA_CLIENTS, options.clients // 2)
        rows = await conn.fetch(
            "SELECT DISTINCT ON (c.code) c.code, i.id FROM clients c JOIN items i ON i.client_id = c.id"
            " WHERE c.code = ANY($1::text[]) ORDER BY c.code, i.due_date",
            [client_code(first + n) for n in range(options.transfers)])
        outbox_mark = await conn.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
    finally:
        await conn.close()
    if len(rows) < options.transfers:
        raise RuntimeError(f"scale: {len(rows)} clients with items for {options.transfers} transfers")
    gate = asyncio.Semaphore(32)
    created: list[str] = []

    unavailable: list[str] = []

    async def create(api: httpx.AsyncClient, code: str, item_id) -> None:
        # A 503 says "try again" (the agencies registry did not answer in time): a client
        # retries with backoff, and the run counts those answers.
        async with gate:
            for attempt in range(TRANSFER_ATTEMPTS):
                response = await api.post(f"/clients/{code}/transfers", json={
                    "item_ids": [str(item_id)], "agency_code": agency, "opening_comment": "scale run",
                    "next_follow_up_date": str(date.today() + timedelta(days=14))})
                if response.status_code != 503 or attempt == TRANSFER_ATTEMPTS - 1:
                    break
                unavailable.append(response.text)
                await asyncio.sleep(0.5 * 2 ** attempt)
            response.raise_for_status()
            created.append(response.json()["id"])

    async def windows_running(count: int) -> None:
        # Each transfer's workflow is started by the bridge from its `transfer.created`,
        # and its window's timer set by its first workflow task: running, and no
        # workflow task waiting on the queue (a started workflow may still wait there).
        temporal = await Client.connect(temporal_address)
        query = f"WorkflowType = '{TRANSFER_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'"
        while (await temporal.count_workflows(query)).count < count:
            await asyncio.sleep(1)
        while await workflow_backlog(temporal, CommonSettings().temporal_task_queue):
            await asyncio.sleep(1)

    def api_client() -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=api_url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=60)

    conn = await asyncpg.connect(database_url, server_settings={"search_path": "dossier"})
    try:
        # The others first, on the product's window: open and quiet when the burst ends.
        began = time.perf_counter()
        async with api_client() as api:
            await asyncio.gather(*(create(api, r["code"], r["id"]) for r in rows[options.same_minute:]))
        others = list(created)
        await windows_running(len(others))
        others_seconds = time.perf_counter() - began
        progress(f"scale: {len(others):,} transfers with the product's 24-hour window,"
                 f" running after {others_seconds:.0f} s; then the burst's short window")
        await asyncio.to_thread(open_with_short_window)
        burst_began = time.perf_counter()
        async with api_client() as api:  # the restarted API, on fresh connections
            await asyncio.gather(*(create(api, r["code"], r["id"]) for r in rows[:options.same_minute]))
        burst_seconds = time.perf_counter() - burst_began
        burst = created[len(others):]
        all_created_seconds = time.perf_counter() - began
        progress(f"scale: the burst of {len(burst):,} created in {burst_seconds:.0f} s"
                 f" ({len(unavailable)} answers 503, retried: {unavailable[0][:200] if unavailable else ''});"
                 f" waiting for its windows ({options.window_seconds} s) to end")
        deadline = time.monotonic() + options.window_seconds + 900
        open_during_burst = None
        while True:
            placed = await conn.fetchval(
                "SELECT count(*) FROM transfers WHERE id = ANY($1::uuid[]) AND placed_at IS NOT NULL",
                burst)
            if open_during_burst is None and placed:
                open_during_burst = await conn.fetchval(
                    "SELECT count(*) FROM transfers WHERE id = ANY($1::uuid[]) AND state = 'in_window'",
                    created)
            if placed >= len(burst) or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        # The placement's moment is its commit: the transfer.placed event is written in the
        # same transaction, with the database clock (the row's placed_at is the workflow's).
        lags = await conn.fetch(
            "SELECT extract(epoch FROM o.created_at - (t.created_at"
            " + make_interval(secs => $2))) AS lag"
            " FROM transfers t JOIN outbox o ON o.event_type = 'transfer.placed'"
            " AND o.event->'payload'->>'transfer_id' = t.id::text"
            " AND o.id > $3 WHERE t.id = ANY($1::uuid[])",
            burst, float(options.window_seconds), outbox_mark)
        still_open = await conn.fetchval(
            "SELECT count(*) FROM transfers WHERE id = ANY($1::uuid[]) AND state = 'in_window'", created)
    finally:
        await conn.close()
    return {
        "transfers": len(created), "same_minute": len(burst),
        "others_running_seconds": round(others_seconds, 1),
        "burst_created_seconds": round(burst_seconds, 1),
        "all_created_seconds": round(all_created_seconds, 1),
        "answered_503_then_retried": len(unavailable),
        "first_503": unavailable[0][:300] if unavailable else None,
        "window_seconds": options.window_seconds,
        "open_when_the_first_was_placed": open_during_burst,
        "open_when_the_burst_was_placed": still_open,
        "lag_same_minute": lag_figures([float(r["lag"]) for r in lags]),
        "goal_p99_s": 30,
        "peak_memory_mib": {name: peak_memory_mib(pid) for name, pid in worker_pids().items()},
        "goal_memory_mib": 1024,
    }


async def measure_bare_windows(temporal_address: str, options: ScaleOptions,
                              progress: Callable[[str], None]) -> dict:
    """The transfer windows' bare baseline (see the module's docstring, 5)."""
    from temporalio.client import Client
    from temporalio.worker import Worker

    from bench.empty_workflow import WindowWorkflow, place
    from relance_workflow import worker as workflow_worker
    from relance_workflow.settings import Settings

    client = await Client.connect(temporal_address)
    tag = os.urandom(4).hex()
    workflow_queue, activity_queue = f"bench-windows-{tag}", f"bench-windows-place-{tag}"
    gate = asyncio.Semaphore(32)
    ends: dict[str, float] = {}

    async def start(n: int):
        async with gate:
            ends[workflow_id := f"bench-window-{tag}-{n}"] = time.time() + options.bare_window_seconds
            return await client.start_workflow(
                WindowWorkflow.run, args=[ends[workflow_id], activity_queue], id=workflow_id,
                task_queue=workflow_queue)

    async with (
        workflow_worker.build_worker(client, Settings(**MASS_WINDOW_POLLS), workflows=[WindowWorkflow],
                                     task_queue=workflow_queue),
        Worker(client, task_queue=activity_queue, activities=[place]),
    ):
        began = time.perf_counter()
        handles = await asyncio.gather(*(start(n) for n in range(options.same_minute)))
        created_seconds = time.perf_counter() - began
        progress(f"scale: {len(handles):,} bare windows in {created_seconds:.0f} s;"
                 f" waiting for them ({options.bare_window_seconds} s) to end")
        # A result is a long poll of the server: a few at a time, as the server caps
        # the polls of a namespace (the lag is the activity's own moment, so the order in
        # which they are read does not count).
        reading = asyncio.Semaphore(16)

        async def result(handle) -> float:
            async with reading:
                return await handle.result()

        placed = await asyncio.gather(*(result(h) for h in handles))
    lags = [moment - ends[h.id] for h, moment in zip(handles, placed, strict=True)]
    return {"workflows": len(handles), "created_seconds": round(created_seconds, 1),
            "window_seconds": options.bare_window_seconds, "lag": lag_figures(lags)}


def lag_figures(values: list[float]) -> dict:
    if not values:
        return {"placed": 0}
    return {"placed": len(values), "min_s": round(min(values), 2),
            "p50_s": round(statistics.median(values), 2),
            "p99_s": round(percentile(values, 0.99), 2), "max_s": round(max(values), 2)}


# ---- the run ---------------------------------------------------------------------------------


def run_scale(stack: Any, options: ScaleOptions, progress: Callable[[str], None]) -> dict:
    """Load, start the platform on the loaded data, measure each path; returns the JSON."""
    from relance_devstack.embedded import free_port, wait_for_port
    from relance_devstack.supervisor import Supervisor
    from relance_dossier.api.auth import new_token

    began = time.perf_counter()
    results: dict[str, Any] = {"parameters": options.__dict__}
    results["load"] = asyncio.run(load(stack.database_url, options, progress))
    token = new_token()
    supervisor = Supervisor.with_free_ports(
        {**stack.env(), "BOOTSTRAP_ADMIN_TOKEN": token, "LOG_LEVEL": "WARNING",
         "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(free_port())},
        stack.logs_dir,
        # F-27: the product's window until the burst (measure_transfers shortens it then).
        # The dossier fixes each transfer's window when it is created.
        extra_env={"dossier": {"TRANSFER_WINDOW_SECONDS": str(PRODUCT_WINDOW_SECONDS)},
                   "workflow": {name.upper(): str(value) for name, value in MASS_WINDOW_POLLS.items()}},
    )
    results["workflow_worker"] = MASS_WINDOW_POLLS
    bare_port = free_port()
    bare = start_bare_card(stack.database_url, bare_port, stack.logs_dir)
    try:
        supervisor.start_all(180)
        wait_for_port(bare_port, 60, bare)
        api_url = supervisor.url_of("dossier")
        progress("scale: the client card, API against the bare endpoint")
        results["client_card"] = asyncio.run(
            measure_card(api_url, token, f"http://127.0.0.1:{bare_port}", options))
        progress("scale: agenda, search by pasted codes, mass assignment")
        results.update(asyncio.run(measure_commands(stack.database_url, api_url, token, options)))
        progress("scale: the console's card and agenda pages of the agenda's collector")
        results["console"] = measure_console_pages(api_url, token, supervisor.url_of("console"), options)
        progress(f"scale: {options.transfers:,} transfer windows, {options.same_minute:,} in one minute")
        def open_with_short_window() -> None:
            supervisor.restart("dossier", {"TRANSFER_WINDOW_SECONDS": str(options.window_seconds)})

        def pids() -> dict[str, int]:
            return {name: supervisor.running[name].process.pid for name in ("workflow", "dossier")}

        results["transfer_windows"] = asyncio.run(measure_transfers(
            stack.database_url, stack.temporal_address, api_url, token, supervisor.demo_agency_code, options,
            open_with_short_window, pids, progress))
        progress(f"scale: the bare baseline, {options.same_minute:,} timers then an activity")
        bare_windows = asyncio.run(measure_bare_windows(stack.temporal_address, options, progress))
        results["transfer_windows"]["bare_same_minute"] = bare_windows
    finally:
        bare.terminate()
        bare.wait(10)
        supervisor.stop_all()
    results["total_seconds"] = round(time.perf_counter() - began, 1)
    return results


def scale_lines(results: dict) -> list[str]:
    """The human summary of a scale run, one line per path with its goal."""
    load, card = results["load"], results["client_card"]
    agenda, search, mass = results["agenda"], results["search"], results["mass_assignment"]
    kpis = results["kpis"]
    windows = results["transfer_windows"]
    same = windows["lag_same_minute"]
    bare = windows.get("bare_same_minute") or {"workflows": 0, "lag": {}}
    memory = ", ".join(f"{k} {v} MiB" for k, v in windows["peak_memory_mib"].items())
    return [
        f"scale load: {load['clients']:,} clients in {load['clients_seconds']:.0f} s,"
        f" {load['items']:,} items in {load['items_seconds']:.0f} s ({load['items_per_second']:,} items/s);"
        f" the first file of {load['item_file_rows']:,} items imported in {load['item_file_seconds'][0]:.1f} s"
        f" (goal for 1,000,000: < 15), the last in {load['item_file_seconds'][-1]:.1f} s;"
        f" vacuumed and analysed in {load['vacuum_seconds']:.0f} s",
        "  the first file's phases: " + ", ".join(
            f"{name} {seconds:.1f} s" for name, seconds in load["item_file_phases"]["first"].items()),
        f"client card at {card['steady']['rate']:g}/s: p50 {card['steady']['p50_ms']:.1f} ms,"
        f" p99 {card['steady']['p99_ms']:.1f} ms (goal < 20; bare p99 {card['bare_steady']['p99_ms']:.1f});"
        f" sustained {card['sustained']['rate']:,.0f}/s vs bare {card['bare_sustained']['rate']:,.0f}/s,"
        f" ratio {card['ratio']:.2f} (goal >= 0.5)",
        f"agenda of {agenda['clients']:,} clients: p50 {agenda['p50_ms']:.1f} ms, p95 {agenda['p95_ms']:.1f} ms"
        " (goal < 50)",
        "console server time, " + ", ".join(
            f"{label} page p50 {page['p50_ms']:.0f} ms, p95 {page['p95_ms']:.0f} ms"
            for label, page in results["console"].items())
        + f" (a collector with {results['console']['agenda']['clients']:,} clients; goal p95 < 100)",
        f"search by {search['codes']:,} codes: p50 {search['p50_ms']:.0f} ms, p95 {search['p95_ms']:.0f} ms",
        f"KPIs over {kpis['clients']:,} clients: kept figures p50 {kpis['p50_ms']:.0f} ms,"
        f" p95 {kpis['p95_ms']:.0f} ms (goal p95 under 1 s); computed {kpis.get('computed_ms', 0):.0f} ms;"
        f" after a change, kept ones served in {kpis.get('stale_served_ms', 0):.0f} ms and"
        f" refreshed in {kpis.get('refreshed_after_change_s')} s"
        " (goal < 1000)",
        f"mass assignment of {mass['clients']:,} clients: {mass['seconds']:.1f} s (goal < 10)",
        "exports (F-40): " + "; ".join(
            f"{label} {export['bytes'] / 1024 / 1024:.1f} MiB, first byte {export['first_byte_ms']:.0f} ms,"
            f" whole {export['whole_ms'] / 1000:.1f} s" for label, export in results.get("exports", {}).items()),
        f"transfer windows: {windows['transfers']:,} open, {windows['same_minute']:,} ending in one minute"
        f" ({windows.get('open_when_the_burst_was_placed', 0):,} still open once they were placed):"
        f" lag to placement p50 {same.get('p50_s', 'n/a')} s, p99 {same.get('p99_s', 'n/a')} s (goal < 30);"
        f" peak memory {memory} (goal < 1024)",
        f"  bare baseline: {bare['workflows']:,} timers then a no-op activity on the same server:"
        f" lag p50 {bare['lag'].get('p50_s', 'n/a')} s, p99 {bare['lag'].get('p99_s', 'n/a')} s",
    ]
