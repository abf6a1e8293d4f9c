"""Session fixtures: one real stack per test session, started only when a test asks, and
on it the platform's own processes (integration and console tests), a local SMTP server
standing for the company's mail relay, and an API client."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller

from relance.db import create_pool
from relance.embedded import free_port
from relance.kafka import ensure_topics
from relance.supervisor import Supervisor
from relance_dossier.persistence.migrations import upgrade
from tests.stack import TestStack, start_test_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestStack]:
    data_dir = tmp_path_factory.mktemp("relance-stack")
    test_stack = start_test_stack(data_dir)
    try:
        upgrade(test_stack.database_url)
        asyncio.run(ensure_topics(test_stack.kafka_bootstrap_servers))
        yield test_stack
    finally:
        test_stack.stop()


ADMIN_TOKEN = "rl_test_admin_token"
# F-31: webhook retries in fractions of a second, so retry and dead-letter tests run fast.
GATEWAY_TEST_ENV = {"transfer-gateway": {
    "WEBHOOK_MAX_ATTEMPTS": "4", "WEBHOOK_BACKOFF_BASE_SECONDS": "0.2",
    "WEBHOOK_BACKOFF_MAX_SECONDS": "1", "WEBHOOK_POLL_SECONDS": "0.2",
    "WEBHOOK_TIMEOUT_SECONDS": "3",
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
         "SMS_CALLBACK_TOKEN": SMS_CALLBACK_TOKEN},
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
    pool = await create_pool(stack.database_url, max_size=4)
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
