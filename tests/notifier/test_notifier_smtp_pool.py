"""Pooled SMTP connections (F-32): the email channel keeps its connections to the relay
open between messages, and reopens one the relay closed without losing the message. A
real local SMTP server (aiosmtpd) stands for the relay."""

import asyncio
from uuid import uuid4

import pytest
from aiosmtpd.controller import Controller

from relance_devstack.embedded import free_port
from relance_notifier.channels.base import OutgoingMessage
from relance_notifier.channels.email import EmailChannel
from relance_notifier.settings import Settings


class Relay:
    """Counts connections and messages; `drop_next` closes the connection on the next MAIL
    FROM without answering, as a relay does with a client it timed out."""

    def __init__(self) -> None:
        self.connections = 0
        self.received: list[str] = []
        self.drop_next = False
        self.in_flight = 0
        self.most_in_flight = 0
        self.delay = 0.0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        if self.drop_next:
            self.drop_next = False
            server.transport.close()
            return "421 closing idle connection"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            self.received.append(envelope.rcpt_tos[0])
        finally:
            self.in_flight -= 1
        return "250 Message accepted"


@pytest.fixture
def relay():
    handler, port = Relay(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def channel(port: int, **settings) -> EmailChannel:
    return EmailChannel(Settings(smtp_host="127.0.0.1", smtp_port=port,
                                 email_rate_per_second=0, **settings))


def message(n: int) -> OutgoingMessage:
    return OutgoingMessage(communication_id=uuid4(), recipient=f"compta-{n}@client.example",
                           subject=f"Relance {n}", body="Bonjour")


async def test_f32_one_connection_serves_message_after_message(relay) -> None:
    inbox, port = relay
    email = channel(port)
    for n in range(5):
        await email.send(message(n))
    await email.aclose()
    assert inbox.received == [f"compta-{n}@client.example" for n in range(5)]
    assert inbox.connections == 1 and email.pool.opened == 1


async def test_f32_a_connection_the_relay_closed_is_reopened_and_the_message_sent_once(
    relay,
) -> None:
    inbox, port = relay
    email = channel(port)
    await email.send(message(1))
    inbox.drop_next = True  # the relay timed the pooled connection out meanwhile
    await email.send(message(2))
    await email.send(message(3))
    await email.aclose()
    assert inbox.received == [f"compta-{n}@client.example" for n in (1, 2, 3)]
    assert email.pool.opened == 2


async def test_f32_a_connection_idle_too_long_is_not_reused(relay) -> None:
    inbox, port = relay
    email = channel(port, smtp_pool_idle_seconds=0)
    await email.send(message(1))
    await asyncio.sleep(0.01)
    await email.send(message(2))
    await email.aclose()
    assert len(inbox.received) == 2 and email.pool.opened == 2


async def test_f32_concurrent_sends_use_at_most_the_pool_size(relay) -> None:
    inbox, port = relay
    inbox.delay = 0.05
    email = channel(port, smtp_pool_size=3)
    await asyncio.gather(*(email.send(message(n)) for n in range(12)))
    await email.aclose()
    assert sorted(inbox.received) == sorted(f"compta-{n}@client.example" for n in range(12))
    assert inbox.most_in_flight == 3 and email.pool.opened == 3
