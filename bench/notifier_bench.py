"""Emails/s through the notifier's send path, against a bare aiosmtplib send loop to
the same local SMTP sink (aiosmtpd), in the same run.

Baseline: N ready-made `EmailMessage`s sent one after the other with `aiosmtplib.send`.

Notifier: N CommunicationRequested envelopes (one client with a default validated email,
the French reminder template with both item tags, ten items) handed one after the other
to `Notifier.handle`, as the Kafka subscriber does: dedup check, sandboxed rendering,
the send record, the SMTP send, then the claim + record + CommunicationSent outbox event
in one transaction, all in schema notifier. The commands are built as the dossier builds
them (its builder resolves the seeded template and contact channels into the command,
since the notifier reads no dossier table). The email rate limit is off
(EMAIL_RATE_PER_SECOND=0) so the path itself is measured, not the setting.

Both clocks start at the first send and stop when the sink has accepted all N messages.
Building the envelopes and seeding the client are not timed. The database must be
migrated (the bench stack runs the migrations)."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from uuid import UUID, uuid4

import aiosmtplib
from aiosmtpd.controller import Controller

from bench.report import Comparison, Throughput
from relance.db import create_pool
from relance.events import CommunicationItem, EventEnvelope
from relance_devstack.embedded import free_port
from relance_dossier.persistence.communications import communication_command
from relance_notifier.channels.email import EmailChannel
from relance_notifier.persistence.migrations import SCHEMA as NOTIFIER_SCHEMA
from relance_notifier.service import Notifier
from relance_notifier.settings import Settings

TEMPLATE_CODE = "bench-notifier-email"
TEMPLATE_SUBJECT = "Relance : factures échues — {{ client.name }}"
TEMPLATE_BODY = (
    "Bonjour,\n\nSauf erreur de notre part, les pièces suivantes restent impayées :\n\n"
    "#items_list_selected\n\nMontant total dû : #items_amount_selected\n\n"
    "Le service recouvrement"
)
ITEMS_PER_EMAIL = 10


@dataclass
class Sink:
    """An SMTP server on 127.0.0.1 that counts the messages it accepts."""

    port: int
    accepted: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        with self._lock:
            self.accepted += 1
        return "250 OK"


async def _wait_for(sink: Sink, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while sink.accepted < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the sink accepted {sink.accepted} of {count} messages")
        await asyncio.sleep(0.005)


async def _seed_client(pool) -> tuple[UUID, str, str, str]:
    client_id, contact_id = uuid4(), uuid4()
    code = f"BENCH-N-{client_id.hex[:8]}"
    address = f"compta-{client_id.hex[:8]}@bench.example"
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO clients (id, code, name) VALUES ($1, $2, $3)",
                           client_id, code, f"Client {code}")
        await conn.execute("INSERT INTO contacts (id, client_id, name) VALUES ($1, $2, $3)",
                           contact_id, client_id, "Comptabilité")
        await conn.execute(
            "INSERT INTO contact_channels (id, contact_id, client_id, type, value, state,"
            " is_default) VALUES ($1, $2, $3, 'email', $4, 'validated', true)",
            uuid4(), contact_id, client_id, address,
        )
        await conn.execute(
            "INSERT INTO templates (code, channel, subject, body) VALUES ($1, 'email', $2, $3)"
            " ON CONFLICT (code) DO UPDATE SET subject = EXCLUDED.subject, body = EXCLUDED.body",
            TEMPLATE_CODE, TEMPLATE_SUBJECT, TEMPLATE_BODY,
        )
    return client_id, code, f"Client {code}", address


def _items() -> list[CommunicationItem]:
    due = date(2026, 1, 1)
    return [
        CommunicationItem(number=f"FA-{n:05d}", kind="invoice", due_date=due + timedelta(days=n),
                          amount=Decimal("1234.56") + n, open_amount=Decimal("1234.56") + n,
                          currency="EUR")
        for n in range(ITEMS_PER_EMAIL)
    ]


async def _envelopes(pool, client_id: UUID, count: int) -> list[EventEnvelope]:
    """The dossier's command once (template and contact channels resolved), then one copy
    per email with its own communication id."""
    async with pool.acquire() as conn:
        command = await communication_command(
            conn, communication_id=uuid4(), client_id=client_id, channel="email",
            template_code=TEMPLATE_CODE, item_ids=[], automatic=True,
        )
    command = command.model_copy(update={"items": _items()})
    return [
        command.model_copy(update={"communication_id": uuid4()}).envelope(
            aggregate_id=client_id, client_id=client_id)
        for _ in range(count)
    ]


def _baseline_messages(address: str, count: int) -> list[EmailMessage]:
    body = TEMPLATE_BODY.replace("#items_list_selected", "\n".join(
        f"{i.number}  {i.due_date:%d/%m/%Y}  {i.open_amount}" for i in _items()))
    messages = []
    for n in range(count):
        message = EmailMessage()
        message["From"] = "relance@bench.example"
        message["To"] = address
        message["Subject"] = f"Relance : factures échues — {n}"
        message["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        message.set_content(body)
        messages.append(message)
    return messages


async def run_notifier_bench(database_url: str, *, emails: int = 1000,
                             timeout: float | None = None) -> Comparison:
    """Baseline first, then the notifier, to the same sink; the comparison carries the
    correctness counters in `extra`."""
    timeout = timeout if timeout is not None else max(60.0, emails / 20)
    sink = Sink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    pool = await create_pool(database_url, schema="dossier", max_size=2)
    notifier_pool = await create_pool(database_url, schema=NOTIFIER_SCHEMA, max_size=4)
    try:
        client_id, _code, _name, address = await _seed_client(pool)

        messages = _baseline_messages(address, emails)
        started = time.perf_counter()
        for message in messages:
            await aiosmtplib.send(message, hostname="127.0.0.1", port=sink.port)
        await _wait_for(sink, emails, timeout)
        baseline_seconds = time.perf_counter() - started

        settings = Settings(database_url=database_url, smtp_host="127.0.0.1",
                            smtp_port=sink.port, email_rate_per_second=0,
                            mail_from="relance@bench.example")
        notifier = Notifier(notifier_pool, {"email": EmailChannel(settings)}, settings)
        envelopes = await _envelopes(pool, client_id, emails)
        started = time.perf_counter()
        for envelope in envelopes:
            await notifier.handle(envelope)
        await _wait_for(sink, 2 * emails, timeout)
        notifier_seconds = time.perf_counter() - started

        sent = await notifier_pool.fetchval(
            "SELECT count(*) FROM communications WHERE client_id = $1 AND status = 'sent'",
            client_id,
        )
        events = await notifier_pool.fetchval(
            "SELECT count(*) FROM outbox WHERE event_type = 'communication.sent'"
            " AND key = $1", str(client_id),
        )
    finally:
        await notifier_pool.close()
        await pool.close()
        controller.stop()

    comparison = Comparison(
        name="notifier",
        subject=Throughput("notifier emails", emails, notifier_seconds, "emails"),
        baseline=Throughput("bare aiosmtplib", emails, baseline_seconds, "emails"),
        extra={
            "items_per_email": ITEMS_PER_EMAIL,
            "email_rate_per_second": 0,
            "correctness": {
                "expected": emails,
                "sink_accepted": sink.accepted,
                "sent_trace_rows": sent,
                "sent_events": events,
            },
        },
    )
    return comparison
