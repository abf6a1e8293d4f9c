"""Outbound webhooks to agencies (F-31): signed by the Standard Webhooks specification
(`webhook-id`, `webhook-timestamp`, `webhook-signature`), retried with exponential
backoff and full jitter, dead-lettered after `webhook_max_attempts`.

Deliveries live in PostgreSQL, so a restart loses none: a delivery is claimed with a
lease (its next attempt pushed past the HTTP timeout) and the outcome recorded after
the call. The agency may receive a message twice (a crash between its 2xx and our
record): the `webhook-id` header, the same on every attempt, lets it deduplicate."""

import asyncio
import json
import time
from http import HTTPStatus

import asyncpg
import httpx
import structlog
from opentelemetry.trace import SpanKind

from relance.observability import traced
from relance.retry import backoff_delay, poll_loop
from relance_gateway.domain.backoff import is_exhausted, is_success
from relance_gateway.domain.secret_box import SecretBox
from relance_gateway.domain.signatures import SECRET_PREFIX, usable_keys, webhook_headers
from relance_gateway.domain.webhook_urls import (
    ForbiddenWebhookUrl,
    Resolver,
    internal_host_names,
    pinned_target,
    system_resolver,
)
from relance_gateway.metrics import (
    DEAD_LETTERS,
    DELIVERIES_BY_STATUS,
    PLACEMENTS_BY_STATUS,
    WEBHOOK_ATTEMPTS,
)
from relance_gateway.persistence import agencies, deliveries, placements
from relance_gateway.settings import Settings

log = structlog.get_logger(__name__)

DELIVERY_ID_HEADER = "X-Relance-Delivery-Id"
ATTEMPT_HEADER = "X-Relance-Delivery-Attempt"
GAUGE_REFRESH_SECONDS = 10.0  # the counts scan tables: not on every idle poll


def status_summary(status_code: int) -> str:
    """What is kept of a failed answer: its code and the standard reason phrase (never
    the remote server's body or its own reason text)."""
    try:
        return f"HTTP {status_code} {HTTPStatus(status_code).phrase}"
    except ValueError:
        return f"HTTP {status_code}"


def error_summary(exc: httpx.HTTPError) -> str:
    """What is kept of a failed call: our side's view of it, never bytes the remote
    server sent (a protocol error quotes them)."""
    name = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return f"{name}: no answer within the timeout"
    if isinstance(exc, httpx.ConnectError):  # the local OS or TLS layer's message
        return f"{name}: {exc}"[:300]
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{name}: the answer was not valid HTTP"
    return name


def encode_body(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookDispatcher:
    def __init__(
        self, pool: asyncpg.Pool, settings: Settings, client: httpx.AsyncClient, box: SecretBox,
        resolve: Resolver = system_resolver,
    ) -> None:
        self._pool = pool
        self._resolve = resolve
        self._box = box
        self._settings = settings
        self._client = client
        self._wake = asyncio.Event()
        self._gauges_refreshed_at = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def dispatch_once(self) -> int:
        """Send every due delivery once; returns how many were attempted."""
        settings = self._settings
        async with self._pool.acquire() as conn, conn.transaction():
            due = await deliveries.claim_due(
                conn, batch_size=settings.webhook_batch_size,
                lease_seconds=settings.webhook_timeout_seconds + 5,
            )
        if due:
            results = await asyncio.gather(*(self._attempt(row) for row in due), return_exceptions=True)
            for row, result in zip(due, results, strict=True):
                if isinstance(result, Exception):
                    # The lease expires and the delivery is tried again: nothing is lost.
                    log.error("gateway.webhook_attempt_crashed", delivery_id=str(row["id"]),
                              error=repr(result)[:500])
        return len(due)

    async def _attempt(self, row: asyncpg.Record) -> None:
        settings = self._settings
        if not row["pushable"]:
            # Deactivated, or pull-only since: the message stays in its pull list.
            await self._dead(row, None, "the agency is inactive or has no webhook URL any more")
            return
        status_code: int | None = None
        try:
            target = await pinned_target(
                row["url"], allow_insecure=settings.webhook_allow_insecure_urls,
                internal_hosts=internal_host_names(settings.webhook_internal_hosts),
                resolve=self._resolve,
            )
        except ForbiddenWebhookUrl as exc:
            # No retry sends it elsewhere: a dead letter at once, with the reason.
            await self._dead(row, None, f"not sent: {exc.reason}")
            return
        except OSError as exc:  # the name does not resolve (yet): retried like a timeout
            target, error = None, f"DNS lookup failed: {exc}"[:300]
        async with self._pool.acquire() as conn:
            secrets = await agencies.signing_secrets(conn, row["agency_code"], self._box)
        # A secret issued before the Standard Webhooks format cannot be read by the
        # agency's library: it is left out, and without any other the delivery cannot go.
        secrets = [s for s in secrets if usable_keys([s])]
        if not secrets:
            await self._dead(row, None, f"the agency has no signing secret in the"
                             f" {SECRET_PREFIX}<base64> format: rotate its secret, then replay")
            return
        body = encode_body(row["body"])
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Relance-Transfer-Gateway/1",
            **webhook_headers(secrets, str(row["message_id"]), int(time.time()), body),
            # Informative only (not signed): which delivery and which attempt this is.
            DELIVERY_ID_HEADER: str(row["id"]),
            ATTEMPT_HEADER: str(row["attempts"]),
        }
        if target is not None:
            try:
                # Streamed and closed unread: the agency's answer body is neither loaded
                # nor kept (the admin API shows the status code only).
                with traced("webhook send", SpanKind.CLIENT, **{
                    "url.full": row["url"], "relance.agency_code": row["agency_code"],
                    "relance.delivery_id": str(row["id"]), "relance.attempt": row["attempts"],
                }) as span, structlog.contextvars.bound_contextvars(event_id=str(row["message_id"])):
                    async with self._client.stream(
                        "POST", target.url, content=body, headers={**headers, **target.headers},
                        extensions=target.extensions, timeout=settings.webhook_timeout_seconds,
                    ) as response:
                        status_code = response.status_code
                        span.set_attribute("http.response.status_code", status_code)
                error = "" if is_success(status_code) else status_summary(status_code)
            except httpx.HTTPError as exc:
                error = error_summary(exc)
        async with self._pool.acquire() as conn, conn.transaction():
            if status_code is not None and is_success(status_code):
                await deliveries.record_delivered(conn, row["id"], row["message_id"], status_code)
                WEBHOOK_ATTEMPTS.labels("delivered").inc()
                log.info("gateway.webhook_delivered", delivery_id=str(row["id"]),
                         event_id=str(row["message_id"]), attempt=row["attempts"])
                return
            if is_exhausted(row["attempts"], settings.webhook_max_attempts):
                await deliveries.record_failure(
                    conn, row["id"], status_code=status_code, error=error, retry_in_seconds=None
                )
                WEBHOOK_ATTEMPTS.labels("dead").inc()
                DEAD_LETTERS.inc()
                log.warning("gateway.webhook_dead_letter", delivery_id=str(row["id"]),
                            event_id=str(row["message_id"]), attempts=row["attempts"], error=error)
                return
            delay = backoff_delay(
                row["attempts"], base=settings.webhook_backoff_base_seconds,
                cap=settings.webhook_backoff_max_seconds, jitter=True,
            )
            await deliveries.record_failure(
                conn, row["id"], status_code=status_code, error=error, retry_in_seconds=delay
            )
        WEBHOOK_ATTEMPTS.labels("failed").inc()
        log.info("gateway.webhook_retry", delivery_id=str(row["id"]), attempt=row["attempts"],
                 retry_in=round(delay, 2), error=error)

    async def _dead(self, row: asyncpg.Record, status_code: int | None, error: str) -> None:
        """A delivery that no retry can help: a dead letter at once, with the reason."""
        async with self._pool.acquire() as conn, conn.transaction():
            await deliveries.record_failure(
                conn, row["id"], status_code=status_code, retry_in_seconds=None, error=error
            )
        WEBHOOK_ATTEMPTS.labels("dead").inc()
        DEAD_LETTERS.inc()
        log.warning("gateway.webhook_dead_letter", delivery_id=str(row["id"]),
                    event_id=str(row["message_id"]), attempts=row["attempts"], error=error)

    async def refresh_gauges(self) -> None:
        async with self._pool.acquire() as conn:
            counts = await deliveries.counts_by_status(conn)
            placed = await placements.counts_by_status(conn)
        for status in ("pending", "delivered", "dead"):
            DELIVERIES_BY_STATUS.labels(status).set(counts.get(status, 0))
        for status in ("placed", "cancellation_requested", "cancelled"):
            PLACEMENTS_BY_STATUS.labels(status).set(placed.get(status, 0))

    async def _idle(self) -> None:
        if time.monotonic() - self._gauges_refreshed_at > GAUGE_REFRESH_SECONDS:
            self._gauges_refreshed_at = time.monotonic()
            await self.refresh_gauges()

    @staticmethod
    def _dispatch_failed(exc: Exception, retry_in: float) -> None:
        log.warning("gateway.dispatch_failed", error=repr(exc), retry_in=retry_in)

    async def run(self) -> None:
        await poll_loop(
            self.dispatch_once, wake=self._wake, idle_seconds=self._settings.webhook_poll_seconds,
            on_error=self._dispatch_failed, on_idle=self._idle,
        )
