"""Emails/s through the notifier's send path, against bare aiosmtplib sends of the same
messages to the same local SMTP sink (aiosmtpd), in the same run.

The batch: N emails over CLIENTS clients (each with a default validated email), taken in
turn (client 1, 2, …, CLIENTS, 1, 2, …), as a morning batch of reminders arrives.

Baseline: N ready-made `EmailMessage`s, one per command, sent with `aiosmtplib.send` (a
connection, EHLO, the message and QUIT each) by as many concurrent senders as the
notifier handles clients at once (SEND_CONCURRENCY), so the notifier gets no
concurrency the baseline is denied. A second figure in `extra` (`reused_connections`):
the same messages over SMTP_POOL_SIZE connections opened once, one sender per
connection, as many as the notifier's pool: bare aiosmtplib at its best.

Notifier: N CommunicationRequested envelopes (the French reminder template with both
item tags, ten items) handed to `Notifier.handle` as the Kafka subscriber does: in
batches of CONSUMER_BATCH_SIZE, in lanes by Kafka key (the client id: one client's
commands in order, SEND_CONCURRENCY clients at once). Each: dedup check and the send
record, sandboxed rendering, the SMTP send on a pooled connection, then the claim +
record + CommunicationSent outbox event in one transaction, all in schema notifier. The
commands are built as the dossier builds them (its builder resolves the seeded template
and contact channels into the command, since the notifier reads no dossier table). The
email rate limit is off (EMAIL_RATE_PER_SECOND=0) so the path itself is measured, not
the setting.

Both clocks start at the first send and stop when the sink has accepted all N messages.
Building the envelopes and messages and seeding the clients are not timed. The database
must be migrated (the bench stack runs the migrations)."""

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
from relance.lanes import run_in_lanes
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


CLIENTS = 50


async def _seed_clients(pool, count: int) -> list[tuple[UUID, str]]:
    """`count` clients with a default validated email each, and the template: (client id,
    address) of each."""
    seeded = []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO templates (code, channel, subject, body) VALUES ($1, 'email', $2, $3)"
            " ON CONFLICT (code, locale) DO UPDATE SET subject = EXCLUDED.subject, body = EXCLUDED.body",
            TEMPLATE_CODE, TEMPLATE_SUBJECT, TEMPLATE_BODY,
        )
        for _ in range(count):
            client_id, contact_id = uuid4(), uuid4()
            code = f"BENCH-N-{client_id.hex[:8]}"
            address = f"compta-{client_id.hex[:8]}@bench.example"
            await conn.execute("INSERT INTO clients (id, code, name) VALUES ($1, $2, $3)",
                               client_id, code, f"Client {code}")
            await conn.execute("INSERT INTO contacts (id, client_id, name) VALUES ($1, $2, $3)",
                               contact_id, client_id, "Comptabilité")
            await conn.execute(
                "INSERT INTO contact_channels (id, contact_id, client_id, type, value, state,"
                " is_default) VALUES ($1, $2, $3, 'email', $4, 'validated', true)",
                uuid4(), contact_id, client_id, address,
            )
            seeded.append((client_id, address))
    return seeded


def _items() -> list[CommunicationItem]:
    due = date(2026, 1, 1)
    return [
        CommunicationItem(number=f"FA-{n:05d}", kind="invoice", due_date=due + timedelta(days=n),
                          amount=Decimal("1234.56") + n, open_amount=Decimal("1234.56") + n,
                          currency="EUR")
        for n in range(ITEMS_PER_EMAIL)
    ]


def _in_turn(clients: list, count: int) -> list:
    """`count` entries taking the clients in turn."""
    return [clients[n % len(clients)] for n in range(count)]


async def _envelopes(pool, clients: list[tuple[UUID, str]], count: int) -> list[EventEnvelope]:
    """The dossier's command once per client (template and contact channels resolved),
    then one copy per email with its own communication id, the clients in turn."""
    commands = {}
    async with pool.acquire() as conn:
        for client_id, _address in clients:
            command = await communication_command(
                conn, communication_id=uuid4(), client_id=client_id, channel="email",
                template_code=TEMPLATE_CODE, item_ids=[], automatic=True,
            )
            commands[client_id] = command.model_copy(update={"items": _items()})
    return [
        commands[client_id].model_copy(update={"communication_id": uuid4()}).envelope(
            aggregate_id=client_id, client_id=client_id)
        for client_id, _address in _in_turn(clients, count)
    ]


def _baseline_messages(addresses: list[str]) -> list[EmailMessage]:
    body = TEMPLATE_BODY.replace("#items_list_selected", "\n".join(
        f"{i.number}  {i.due_date:%d/%m/%Y}  {i.open_amount}" for i in _items()))
    messages = []
    for n, address in enumerate(addresses):
        message = EmailMessage()
        message["From"] = "relance@bench.example"
        message["To"] = address
        message["Subject"] = f"Relance : factures échues — {n}"
        message["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        message.set_content(body)
        messages.append(message)
    return messages


async def _send_bare(messages: list[EmailMessage], port: int, concurrency: int) -> None:
    """`concurrency` senders, each message on its own connection (aiosmtplib.send)."""
    queue = list(reversed(messages))

    async def sender() -> None:
        while queue:
            await aiosmtplib.send(queue.pop(), hostname="127.0.0.1", port=port)

    await asyncio.gather(*(sender() for _ in range(concurrency)))


async def _send_reused(messages: list[EmailMessage], port: int, connections: int) -> None:
    """One sender per connection, each connection opened once."""
    queue = list(reversed(messages))

    async def sender() -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
            while queue:
                await smtp.send_message(queue.pop())

    await asyncio.gather(*(sender() for _ in range(connections)))


async def run_notifier_bench(database_url: str, *, emails: int = 1000,
                             timeout: float | None = None,
                             clients: int = CLIENTS) -> Comparison:
    """Baselines first, then the notifier, to the same sink; the comparison carries the
    correctness counters in `extra`."""
    timeout = timeout if timeout is not None else max(60.0, emails / 20)
    clients = max(1, min(clients, emails))
    sink = Sink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    pool = await create_pool(database_url, schema="dossier", max_size=2)
    settings = Settings(database_url=database_url, smtp_host="127.0.0.1",
                        smtp_port=sink.port, email_rate_per_second=0,
                        mail_from="relance@bench.example")
    notifier_pool = await create_pool(database_url, schema=NOTIFIER_SCHEMA,
                                      max_size=settings.db_pool_size)
    channel = EmailChannel(settings)
    try:
        seeded = await _seed_clients(pool, clients)
        addresses = [address for _client_id, address in _in_turn(seeded, emails)]

        messages = _baseline_messages(addresses)
        started = time.perf_counter()
        await _send_bare(messages, sink.port, settings.send_concurrency)
        await _wait_for(sink, emails, timeout)
        baseline_seconds = time.perf_counter() - started

        messages = _baseline_messages(addresses)
        started = time.perf_counter()
        await _send_reused(messages, sink.port, settings.smtp_pool_size)
        await _wait_for(sink, 2 * emails, timeout)
        reused_seconds = time.perf_counter() - started

        notifier = Notifier(notifier_pool, {"email": channel}, settings)
        envelopes = await _envelopes(pool, seeded, emails)
        started = time.perf_counter()
        size = settings.consumer_batch_size
        for batch in (envelopes[n:n + size] for n in range(0, len(envelopes), size)):
            await run_in_lanes(batch, key=lambda envelope: envelope.client_id,
                               handle=notifier.handle, concurrency=settings.send_concurrency)
        await _wait_for(sink, 3 * emails, timeout)
        notifier_seconds = time.perf_counter() - started

        client_ids = [client_id for client_id, _address in seeded]
        sent = await notifier_pool.fetchval(
            "SELECT count(*) FROM communications WHERE client_id = ANY($1::uuid[])"
            " AND status = 'sent'", client_ids,
        )
        events = await notifier_pool.fetchval(
            "SELECT count(*) FROM outbox WHERE event_type = 'communication.sent'"
            " AND key = ANY($1::text[])", [str(client_id) for client_id in client_ids],
        )
    finally:
        await channel.aclose()
        await notifier_pool.close()
        await pool.close()
        controller.stop()

    reused = Throughput("aiosmtplib, reused connections", emails, reused_seconds, "emails")
    subject = Throughput("notifier emails", emails, notifier_seconds, "emails")
    comparison = Comparison(
        name="notifier",
        subject=subject,
        baseline=Throughput("bare aiosmtplib", emails, baseline_seconds, "emails"),
        extra={
            "items_per_email": ITEMS_PER_EMAIL,
            "email_rate_per_second": 0,
            "clients": clients,
            "send_concurrency": settings.send_concurrency,
            "smtp_pool_size": settings.smtp_pool_size,
            "reused_connections": {**reused.as_dict(),
                                   "ratio": round(subject.rate / reused.rate, 4)},
            "correctness": {
                "expected": emails,
                "sink_accepted": sink.accepted - 2 * emails,
                "sent_trace_rows": sent,
                "sent_events": events,
            },
        },
    )
    return comparison
