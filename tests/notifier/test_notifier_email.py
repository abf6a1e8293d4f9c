"""The email message and the classification of SMTP failures (F-32)."""

import asyncio
from datetime import UTC, datetime
from uuid import UUID

import aiosmtplib
import pytest

from relance.retry import backoff_delay
from relance_notifier.channels.base import (
    OutgoingMessage,
    PermanentSendError,
    TransientSendError,
)
from relance_notifier.channels.email import build_email, classify_smtp_error, message_id
from relance_notifier.channels.ratelimit import RateLimiter
from tests.notifier.virtual_time import run_in_virtual_time

CID = UUID("12345678-1234-5678-1234-567812345678")


def test_f32_message_id_is_derived_from_the_communication_id() -> None:
    assert message_id(CID, "Relance <relance@acme.test>") == f"<{CID}@acme.test>"
    assert message_id(CID, "relance@localhost") == f"<{CID}@localhost>"


def test_f32_email_headers_and_body() -> None:
    email = build_email(
        OutgoingMessage(CID, "compta@client.test", "Relance ACME", "Montant : 1 234,50 €\n"),
        mail_from="relance@acme.test",
        now=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert email["To"] == "compta@client.test"
    assert email["From"] == "relance@acme.test"
    assert email["Subject"] == "Relance ACME"
    assert email["Message-ID"] == f"<{CID}@acme.test>"
    assert email["X-Relance-Communication-Id"] == str(CID)
    assert email["Auto-Submitted"] == "auto-generated"
    assert email.get_content_type() == "text/plain"
    assert email.get_content() == "Montant : 1 234,50 €\n"


def test_f32_header_injection_is_refused() -> None:
    with pytest.raises(PermanentSendError):
        build_email(
            OutgoingMessage(CID, "a@b.test\nBcc: x@evil.test", "s", "b"),
            mail_from="relance@acme.test",
            now=datetime.now(UTC),
        )


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ConnectionRefusedError(111, "refused"), TransientSendError),
        (aiosmtplib.SMTPConnectError("refused"), TransientSendError),
        (aiosmtplib.SMTPServerDisconnected("gone"), TransientSendError),
        (aiosmtplib.SMTPReadTimeoutError("slow"), TransientSendError),
        (aiosmtplib.SMTPResponseException(451, "try later"), TransientSendError),
        (aiosmtplib.SMTPDataError(421, "busy"), TransientSendError),
        (aiosmtplib.SMTPDataError(554, "rejected content"), PermanentSendError),
        (aiosmtplib.SMTPResponseException(550, "no"), PermanentSendError),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(550, "no such user", "x@y.test")]
            ),
            PermanentSendError,
        ),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(450, "mailbox busy", "x@y.test")]
            ),
            TransientSendError,
        ),
        # Our own configuration: a fix and a redelivery will get the message through.
        (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), TransientSendError),
        (aiosmtplib.SMTPSenderRefused(550, "bad sender", "relance@x"), TransientSendError),
        (aiosmtplib.SMTPNotSupported("no STARTTLS"), TransientSendError),
    ],
)
def test_f32_smtp_failures_are_transient_or_permanent(error: Exception, kind: type) -> None:
    assert type(classify_smtp_error(error)) is kind


def test_f32_retries_back_off_exponentially_up_to_a_cap() -> None:
    assert [backoff_delay(n, base=0.5, cap=3) for n in range(1, 6)] == [0.5, 1, 2, 3, 3]


def test_f32_email_rate_is_limited() -> None:
    async def five_sends() -> list[float]:
        limiter, times = RateLimiter(4), []
        for _ in range(5):
            await limiter.acquire()
            times.append(asyncio.get_running_loop().time())
        return times

    times = run_in_virtual_time(five_sends, start=100.0)
    gaps = [round(b - a, 6) for a, b in zip(times, times[1:], strict=False)]
    assert gaps == [0.25, 0.25, 0.25, 0.25]


@pytest.mark.parametrize(
    ("subject", "body", "mail_from"),
    [
        ("Relance : factures échues — ACME", "Montant : 1 234,50 €\n" * 10, "relance@acme.test"),
        ("x" * 200 + " é " + "y" * 100, "a" * 1200 + "\n" + "é" * 500, "Relance Société <r@acme.test>"),
        ("plain", "plain ascii\n", "relance@localhost"),
    ],
)
def test_f32_the_message_is_the_one_the_stock_email_policy_writes(subject, body, mail_from) -> None:
    """The reused header classes change the cost of a message, not its bytes, whatever the
    relay accepts (8BITMIME or not, SMTPUTF8 or not)."""
    from email.message import EmailMessage

    from aiosmtplib.email import flatten_message

    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    built = build_email(OutgoingMessage(CID, "compta@client.test", subject, body),
                        mail_from=mail_from, now=now)
    stock = EmailMessage()
    for name, value in built.items():
        if name.lower() not in ("content-type", "content-transfer-encoding", "mime-version"):
            stock[name] = str(value)
    stock.set_content(body)
    for options in ({}, {"utf8": True}, {"cte_type": "7bit"}):
        assert flatten_message(built, **options) == flatten_message(stock, **options)
