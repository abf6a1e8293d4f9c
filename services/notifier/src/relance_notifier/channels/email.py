"""The email channel: SMTP through aiosmtplib (F-32).

The Message-ID is derived from the communication id, so a message that had to be sent
again (a crash between the SMTP answer and the commit) carries the same Message-ID and
can be deduplicated downstream.

Messages go out on pooled connections to the relay (channels.smtp_pool): one connection
serves many messages, instead of a connection, EHLO, STARTTLS and login for each."""

import time
from datetime import UTC, datetime
from email import policy as email_policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from uuid import UUID

import aiosmtplib
from opentelemetry.trace import SpanKind

from relance.observability import traced
from relance_notifier.channels.base import (
    OutgoingMessage,
    PermanentSendError,
    SendError,
    TransientSendError,
)
from relance_notifier.channels.ratelimit import RateLimiter
from relance_notifier.channels.smtp_pool import SmtpPool
from relance_notifier.metrics import SEND_SECONDS
from relance_notifier.settings import Settings

COMMUNICATION_ID_HEADER = "X-Relance-Communication-Id"


def message_id(communication_id: UUID, mail_from: str) -> str:
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "relance.invalid"
    return f"<{communication_id}@{domain}>"


class _ReusedHeaderClasses(HeaderRegistry):
    """The standard registry, but each header's class is built once: the stock one builds
    a new class for every header set, read or counted, about half the cost of a message."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


# The default policy of EmailMessage, with the registry above: the same headers and bytes.
MESSAGE_POLICY = email_policy.default.clone(header_factory=_ReusedHeaderClasses())


def build_email(message: OutgoingMessage, *, mail_from: str, now: datetime) -> EmailMessage:
    """The MIME message (text/plain, UTF-8); PermanentSendError if a header is invalid."""
    email = EmailMessage(policy=MESSAGE_POLICY)
    try:
        email["From"] = mail_from
        email["To"] = message.recipient
        email["Subject"] = message.subject
        email["Date"] = format_datetime(now)
        email["Message-ID"] = message_id(message.communication_id, mail_from)
        email[COMMUNICATION_ID_HEADER] = str(message.communication_id)
        if message.automatic:
            email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
        email.set_content(message.body)
    except (ValueError, TypeError) as exc:
        raise PermanentSendError(f"invalid message: {exc}") from exc
    return email


def classify_smtp_error(exc: BaseException) -> SendError:
    """Transient: network, timeouts, 4xx, and problems of our own configuration
    (authentication, TLS, sender refused) that a redelivery after a fix will get through.
    Permanent: a 5xx about this message (recipient refused, content rejected)."""
    detail = f"{type(exc).__name__}: {exc}"[:500]
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        if codes and all(500 <= code < 600 for code in codes):
            return PermanentSendError(detail)
        return TransientSendError(detail)
    if isinstance(
        exc,
        aiosmtplib.SMTPAuthenticationError
        | aiosmtplib.SMTPSenderRefused
        | aiosmtplib.SMTPConnectResponseError
        | aiosmtplib.SMTPHeloError
        | aiosmtplib.SMTPNotSupported,
    ):
        return TransientSendError(detail)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return PermanentSendError(detail) if 500 <= exc.code < 600 else TransientSendError(detail)
    # Connection refused/reset, timeouts, server disconnected, DNS…
    return TransientSendError(detail)


class EmailChannel:
    name = "email"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._limiter = RateLimiter(settings.email_rate_per_second)
        self.pool = SmtpPool(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            start_tls=settings.smtp_starttls,
            use_tls=settings.smtp_use_tls,
            timeout=settings.smtp_timeout_seconds,
            size=settings.smtp_pool_size,
            idle_seconds=settings.smtp_pool_idle_seconds,
        )

    async def send(self, message: OutgoingMessage) -> None:
        s = self._settings
        email = build_email(message, mail_from=s.mail_from, now=datetime.now(UTC))
        await self._limiter.acquire()
        started = time.perf_counter()
        try:
            with traced("smtp send", SpanKind.CLIENT, **{
                "server.address": s.smtp_host, "server.port": s.smtp_port,
                "relance.communication_id": str(message.communication_id),
            }):
                await self.pool.send(email)
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise classify_smtp_error(exc) from exc
        finally:
            SEND_SECONDS.labels(self.name).observe(time.perf_counter() - started)

    async def aclose(self) -> None:
        await self.pool.aclose()
