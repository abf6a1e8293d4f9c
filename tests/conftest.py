"""Session fixtures, for every test folder: one real stack per test session (started only
when a test asks), the platform's own processes on it, a local SMTP server standing for the
company's mail relay, a local SMS provider, and an API client."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller

from relance.db import create_pool
from relance.kafka import ensure_topics
from relance_devstack.embedded import free_port
from relance_devstack.migrate import upgrade_all
from relance_devstack.supervisor import Supervisor
from tests.stack import SEARCH_PATH, TestStack, start_test_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestStack]:
    data_dir = tmp_path_factory.mktemp("relance-stack")
    test_stack = start_test_stack(data_dir)
    try:
        upgrade_all(test_stack.database_url)
        asyncio.run(ensure_topics(test_stack.kafka_bootstrap_servers))
        yield test_stack
    finally:
        test_stack.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """One temporary root per session: pytest's shared default root keeps only its three
    newest runs, so two sessions on one machine could delete each other's stack folders."""
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = str(Path(tempfile.gettempdir()) / f"relance-tests-{os.getpid()}")


def pytest_unconfigure(config: pytest.Config) -> None:
    basetemp = Path(str(config.option.basetemp or ""))
    if basetemp.name.startswith("relance-tests-") and getattr(config, "_relance_passed", False):
        shutil.rmtree(basetemp, ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config._relance_passed = exitstatus == 0  # type: ignore[attr-defined]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that reaches the stack is an integration test wherever its folder is, so
    `make test-unit` (`-m "not integration"`) runs the pure ones alone."""
    for item in items:
        if "stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


ADMIN_TOKEN = "rl_test_admin_token"
# F-31: webhook retries in fractions of a second, so retry and dead-letter tests run fast.
GATEWAY_TEST_ENV = {"transfer-gateway": {
    "WEBHOOK_MAX_ATTEMPTS": "4", "WEBHOOK_BACKOFF_BASE_SECONDS": "0.2",
    "WEBHOOK_BACKOFF_MAX_SECONDS": "1", "WEBHOOK_POLL_SECONDS": "0.2",
    "WEBHOOK_TIMEOUT_SECONDS": "3",
    # The tests' webhook receivers listen on http://127.0.0.1 (refused by default).
    "WEBHOOK_ALLOW_INSECURE_URLS": "true",
}}


@dataclass
class SmtpInbox:
    """What a real SMTP server on 127.0.0.1 received."""

    port: int
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        message = message_from_bytes(envelope.original_content)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address in m["X-Envelope-To"]]

    async def wait_for(self, address: str, timeout: float = 60) -> Message:
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.to(address):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no mail to {address} within {timeout}s")
            await asyncio.sleep(0.1)
        return self.to(address)[0]


@pytest.fixture(scope="session")
def smtp_inbox() -> Iterator[SmtpInbox]:
    inbox = SmtpInbox(port=free_port())
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


SMS_PROVIDER_TOKEN = "sms_test_token"
SMS_CALLBACK_TOKEN = "sms_test_callback_token"


class FakeSmsProvider:
    """A real HTTP server on 127.0.0.1 standing for the SMS provider (outside the system):
    it records each JSON POST and answers 202 with a message id, or the statuses scripted
    for a phone number (`script["+33600000001"] = [503, 202]`)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: dict[str, list[int]] = {}
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                statuses = provider.script.get(body.get("to"), [])
                status = statuses.pop(0) if statuses else 202
                provider.requests.append(
                    {"headers": dict(self.headers), "json": body, "status": status}
                )
                answer = json.dumps({"id": f"sms-{len(provider.requests)}"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/messages"

    def delivered_to(self, number: str) -> list[dict]:
        return [r for r in self.requests if r["json"]["to"] == number and r["status"] < 300]


@pytest.fixture(scope="session")
def sms_provider() -> Iterator[FakeSmsProvider]:
    provider = FakeSmsProvider()
    thread = threading.Thread(target=provider.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        provider.server.shutdown()
        provider.server.server_close()


@pytest.fixture(scope="session")
def platform(
    stack: TestStack, smtp_inbox: SmtpInbox, sms_provider: FakeSmsProvider
) -> Iterator[Supervisor]:
    """The relay, the four services and the agency simulator, as real processes."""
    supervisor = Supervisor.with_free_ports(
        {**stack.env(), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_inbox.port),
         "BOOTSTRAP_ADMIN_TOKEN": ADMIN_TOKEN,
         "SMS_PROVIDER_URL": sms_provider.url, "SMS_PROVIDER_TOKEN": SMS_PROVIDER_TOKEN,
         "SMS_CALLBACK_TOKEN": SMS_CALLBACK_TOKEN,
         # The strict scope, walked by the access matrix and the console tests; the seeds'
         # default (`all`) and `team` are in tests/dossier/test_visibility_scope.py.
         "CLIENT_VISIBILITY": "own",
         # Every day a working day, so no test depends on the weekday it runs on (the
         # working-day rule is tested on the planning itself, tests/shared/test_planning.py).
         "BUSINESS_DAYS": "[1,2,3,4,5,6,7]"},
        stack.logs_dir,
        extra_env={**GATEWAY_TEST_ENV},
    )
    supervisor.start_all(timeout=120)
    try:
        yield supervisor
    finally:
        supervisor.stop_all()


@pytest.fixture(scope="session")
async def dossier_api(platform: Supervisor) -> AsyncIterator[httpx.AsyncClient]:
    """The dossier API as the bootstrap admin."""
    async with httpx.AsyncClient(
        base_url=platform.running["dossier"].url, timeout=30,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ) as client:
        yield client


@pytest.fixture(scope="session")
async def db(stack: TestStack) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(stack.database_url, schema=SEARCH_PATH, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


async def eventually(check, timeout: float = 60, interval: float = 0.2):
    """Poll `check()` until it returns a truthy value; that value is returned."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)
