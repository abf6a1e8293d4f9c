"""Connections to the SMTP relay, kept open between messages (F-32).

Opening a connection costs a TCP handshake, EHLO, STARTTLS and the login when the
settings ask for them, and QUIT after the message: more than the message itself on a
local relay. The pool keeps up to `size` authenticated connections and hands one to each
send; at most `size` messages are in the relay's hands at once.

A relay closes a connection it finds idle (RFC 5321 allows it after a few minutes) or
when it restarts. A connection idle longer than `idle_seconds` is closed before use; a
reused connection that turns out to be gone when the message is sent is replaced by a
fresh one and the message is sent again on it, once: a relay that dropped the
connection did not take the message. Any other failure closes the connection (its SMTP
state is unknown) and is raised for the caller to classify."""

import asyncio
import contextlib
import time
from email.message import EmailMessage

import aiosmtplib

# The relay closed the connection under us (an idle timeout, a restart).
GONE = (aiosmtplib.SMTPServerDisconnected, ConnectionError)


class SmtpPool:
    def __init__(
        self,
        *,
        hostname: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        start_tls: bool = False,
        use_tls: bool = False,
        timeout: float = 30.0,
        size: int = 4,
        idle_seconds: float = 30.0,
    ) -> None:
        self.hostname, self.port = hostname, port
        self._username, self._password = username, password
        self._start_tls, self._use_tls, self._timeout = start_tls, use_tls, timeout
        self.size = max(1, size)
        self.idle_seconds = idle_seconds
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []  # (connection, last used)
        self._slots: asyncio.Semaphore | None = None
        self.opened = 0  # connections opened so far (for the tests and the logs)

    async def send(self, email: EmailMessage) -> None:
        """Send `email` on a pooled connection; raises what aiosmtplib raises."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.size)
        async with self._slots:
            smtp = self._take()
            reused = smtp is not None
            if smtp is None:
                smtp = await self._open()
            try:
                try:
                    await smtp.send_message(email)
                except GONE:
                    if not reused:
                        raise
                    _close(smtp)
                    smtp = await self._open()
                    await smtp.send_message(email)
            except BaseException:
                _close(smtp)
                raise
            self._idle.append((smtp, time.monotonic()))

    def _take(self) -> aiosmtplib.SMTP | None:
        """The most recently used open connection; the stale ones are closed."""
        now = time.monotonic()
        while self._idle:
            smtp, used = self._idle.pop()
            if smtp.is_connected and now - used <= self.idle_seconds:
                return smtp
            _close(smtp)
        return None

    async def _open(self) -> aiosmtplib.SMTP:
        # The same options aiosmtplib.send is given: connect() does EHLO, STARTTLS and
        # the login.
        smtp = aiosmtplib.SMTP(
            hostname=self.hostname, port=self.port, username=self._username,
            password=self._password, start_tls=self._start_tls, use_tls=self._use_tls,
            timeout=self._timeout,
        )
        await smtp.connect()
        self.opened += 1
        return smtp

    async def aclose(self) -> None:
        """QUIT every idle connection (at shutdown)."""
        idle, self._idle = self._idle, []
        for smtp, _ in idle:
            with contextlib.suppress(Exception):
                await smtp.quit()
            _close(smtp)


def _close(smtp: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        smtp.close()
