"""The notifier's use case: handle one CommunicationRequested command (F-16, F-21, F-23,
F-32) on any channel (email, internal_email, sms, letter).

1. Skip it if its event was processed or its communication already sent (redelivery).
2. Decide (pure domain): recipient = the client's default validated channel (or the
   one a manual command names, or the colleague of an internal email), rendered
   template; or a reason not to send (no channel → needs_attention, unsupported
   channel, missing/broken template → failed).
3. Record the communication as 'sending', hand it to the channel, retrying transient
   failures with exponential backoff; when they persist, record 'retrying' and raise so
   the command is redelivered (never acknowledged unsent).
4. In one transaction: claim the event, upsert the communication with its outcome and
   write CommunicationSent / CommunicationFailed to the outbox, carrying what the
   client's trace shows (the dossier keeps that trace, and records a letter's PDF among
   the client's documents, F-23, F-26).

Everything read comes from the command (the dossier resolves the template and the
contact channels) or from the notifier's own schema: no dossier table is read.

Delivery is at least once: a crash between the SMTP answer and the commit sends the
message again, with the same Message-ID."""

import asyncio
from collections.abc import Mapping
from uuid import UUID

import asyncpg
import structlog

from relance.consumer import claim_event
from relance.events import (
    CommunicationDeliveryUpdated,
    CommunicationDocument,
    CommunicationFailed,
    CommunicationRequested,
    CommunicationSent,
    EventEnvelope,
    capped_body,
)
from relance.outbox import write_events
from relance.retry import backoff_delay
from relance_notifier.channels.base import (
    Channel,
    OutgoingMessage,
    PermanentSendError,
    SendResult,
    TransientSendError,
)
from relance_notifier.domain.communication import (
    FAILED,
    SENDING,
    SENT,
    Deliver,
    Reject,
    decide,
)
from relance_notifier.domain.contacts import ContactChannel
from relance_notifier.domain.delivery import delivery_status_for
from relance_notifier.domain.rendering import Template
from relance_notifier.metrics import (
    COMMANDS_SKIPPED,
    COMMUNICATIONS,
    DELIVERY_REPORTS,
    SEND_ATTEMPTS,
)
from relance_notifier.persistence import repository as repo
from relance_notifier.persistence.repository import CommunicationRecord
from relance_notifier.settings import Settings

log = structlog.get_logger(__name__)

CONSUMER = "notifier"  # processed_events.consumer

# Outcomes of a delivery report.
REPORT_UNKNOWN = "unknown"  # no such communication
REPORT_IGNORED = "ignored"  # an intermediate state
REPORT_UNCHANGED = "unchanged"  # already recorded, or the communication was not sent
REPORT_RECORDED = "recorded"


class Notifier:
    def __init__(
        self, pool: asyncpg.Pool, channels: Mapping[str, Channel], settings: Settings
    ) -> None:
        self._pool = pool
        self._channels = dict(channels)
        self._settings = settings

    def channel(self, name: str) -> Channel | None:
        return self._channels.get(name)

    async def handle(self, envelope: EventEnvelope) -> None:
        """Handle one envelope from `communication.commands`; other event types are
        ignored. Raises when the command must be redelivered."""
        if (envelope.event_type, envelope.schema_version) != (
            CommunicationRequested.event_type,
            CommunicationRequested.schema_version,
        ):
            COMMANDS_SKIPPED.labels("other_event").inc()
            log.debug("notifier.event_ignored", event_type=envelope.event_type)
            return
        command = envelope.payload_as(CommunicationRequested)
        with structlog.contextvars.bound_contextvars(
            event_id=str(envelope.event_id),
            communication_id=str(command.communication_id),
            channel=command.channel,
        ):
            await self._handle(envelope.event_id, command)

    async def record_delivery_report(
        self,
        communication_id: UUID,
        provider_status: str,
        *,
        provider_ref: str | None = None,
        reason: str | None = None,
    ) -> str:
        """Apply the SMS provider's delivery report (F-32): the trace gets the final status
        and CommunicationDeliveryUpdated goes to the outbox, in one transaction; the same
        report twice changes nothing. Raises UnknownDeliveryState for an unknown state."""
        outcome = await self._record_delivery_report(
            communication_id, provider_status, provider_ref=provider_ref, reason=reason
        )
        DELIVERY_REPORTS.labels(outcome).inc()
        return outcome

    async def _record_delivery_report(
        self,
        communication_id: UUID,
        provider_status: str,
        *,
        provider_ref: str | None,
        reason: str | None,
    ) -> str:
        delivery_status = delivery_status_for(provider_status)
        async with self._pool.acquire() as conn, conn.transaction():
            if not await repo.communication_exists(conn, communication_id):
                return REPORT_UNKNOWN
            if delivery_status is None:
                return REPORT_IGNORED
            changed = await repo.record_delivery(
                conn, communication_id, delivery_status, provider_ref, reason
            )
            if changed is None:
                return REPORT_UNCHANGED
            event = CommunicationDeliveryUpdated(
                communication_id=communication_id,
                client_id=changed.client_id,
                channel=changed.channel,
                delivery_status=delivery_status,
                provider_ref=changed.provider_ref,
                reason=reason,
                dossier_id=changed.dossier_id,
                intervention_id=changed.intervention_id,
            ).envelope(aggregate_id=communication_id, client_id=changed.client_id)
            await write_events(conn, [event])
        log.info(
            "communication.delivery_updated",
            communication_id=str(communication_id),
            delivery_status=delivery_status,
        )
        return REPORT_RECORDED

    async def _handle(self, event_id: UUID, command: CommunicationRequested) -> None:
        # One connection for the dedup check and the 'sending' record: each return of a
        # connection to the pool costs a round trip of its own (the pool resets it).
        async with self._pool.acquire() as conn:
            # One round trip (a morning batch is bound by database round trips, not by
            # rendering), on the notifier's own tables only.
            prior = await repo.load_prior(conn, CONSUMER, event_id, command.communication_id)
            if prior.event_processed or prior.status == SENT:
                COMMANDS_SKIPPED.labels("duplicate").inc()
                log.info("communication.duplicate_skipped", status=prior.status)
                return
            decision = decide(
                command,
                channels=contact_channels(command),
                template=command_template(command),
                supported_channels=self._channels,
                versions=template_versions(command),
            )
            if isinstance(decision, Deliver):
                started = await repo.upsert_communication(
                    conn, self._record(
                        command, status=SENDING, recipient=decision.recipient,
                        subject=decision.subject, body=decision.body,
                    )
                )
        if isinstance(decision, Reject):
            await self._finish_rejected(event_id, command, decision, attempts=0)
            return
        if started is None:  # sent meanwhile under another event id
            COMMANDS_SKIPPED.labels("duplicate").inc()
            log.info("communication.duplicate_skipped", status=SENT)
            return
        await self._deliver(event_id, command, decision)

    async def _deliver(
        self, event_id: UUID, command: CommunicationRequested, decision: Deliver
    ) -> None:
        """Send the message recorded as 'sending', retrying transient failures, then
        record the outcome."""
        channel = self._channels[command.channel]
        message = OutgoingMessage(
            communication_id=command.communication_id,
            recipient=decision.recipient,
            subject=decision.subject,
            body=decision.body,
            automatic=command.automatic,
            client_id=command.client_id,
            client_name=command.client_name,
        )
        s = self._settings
        attempts = 0
        while True:
            attempts += 1
            try:
                result = await channel.send(message) or SendResult()
                SEND_ATTEMPTS.labels(channel.name, "ok").inc()
                break
            except PermanentSendError as exc:
                SEND_ATTEMPTS.labels(channel.name, "permanent").inc()
                log.warning("communication.send_refused", error=str(exc), attempts=attempts)
                reject = Reject(
                    status=FAILED, reason=str(exc), needs_attention=False,
                    recipient=decision.recipient,
                )
                await self._finish_rejected(event_id, command, reject, attempts=attempts)
                return
            except TransientSendError as exc:
                SEND_ATTEMPTS.labels(channel.name, "transient").inc()
                if attempts >= s.send_max_attempts:
                    log.warning(
                        "communication.send_postponed", error=str(exc), attempts=attempts
                    )
                    async with self._pool.acquire() as conn:
                        await repo.record_retry(
                            conn, command.communication_id, attempts, str(exc)
                        )
                    raise
                delay = backoff_delay(
                    attempts, base=s.send_retry_base_seconds, cap=s.send_retry_max_seconds
                )
                log.info(
                    "communication.send_retry", error=str(exc), attempts=attempts, retry_in=delay
                )
                await asyncio.sleep(delay)

        record = self._record(
            command, status=SENT, recipient=decision.recipient, subject=decision.subject,
            body=decision.body, attempts=attempts, result=result,
        )
        # One transaction: the event claimed, the record 'sent' and the outbox event that
        # carries what the dossier's trace shows, the letter's document included (F-23,
        # F-26) — all or nothing.
        async with self._pool.acquire() as conn, conn.transaction():
            written = await repo.claim_and_upsert_communication(conn, CONSUMER, event_id, record)
            if written is not None:
                await write_events(conn, [sent_event(command, decision, result, written)])
        COMMUNICATIONS.labels(command.channel, SENT).inc()
        log.info("communication.sent", attempts=attempts)

    async def _finish_rejected(
        self, event_id: UUID, command: CommunicationRequested, reject: Reject, *, attempts: int
    ) -> None:
        record = self._record(
            command, status=reject.status, recipient=reject.recipient, attempts=attempts,
            error=reject.reason,
        )
        async with self._pool.acquire() as conn, conn.transaction():
            written = None
            if await claim_event(conn, CONSUMER, event_id):
                written = await repo.upsert_communication(conn, record)
                if written is not None:
                    await write_events(conn, [failed_event(command, reject, written.attempts)])
        if written is None:
            return
        COMMUNICATIONS.labels(command.channel, reject.status).inc()
        log.warning("communication.not_sent", status=reject.status, reason=reject.reason)

    @staticmethod
    def _record(
        command: CommunicationRequested,
        *,
        status: str,
        recipient: str | None,
        subject: str | None = None,
        body: str | None = None,
        attempts: int = 0,
        error: str | None = None,
        result: SendResult | None = None,
    ) -> CommunicationRecord:
        """The trace row of `command`; `sent_at` is set when the status is SENT."""
        return CommunicationRecord(
            id=command.communication_id,
            client_id=command.client_id,
            dossier_id=command.dossier_id,
            intervention_id=command.intervention_id,
            channel=command.channel,
            template_code=command.template_code,
            recipient=recipient,
            subject=subject,
            body=body,
            status=status,
            attempts=attempts,
            error=error,
            sent=status == SENT,
            provider_ref=result.provider_ref if result else None,
            attachment_id=result.document.id if result and result.document else None,
        )


def contact_channels(command: CommunicationRequested) -> list[ContactChannel]:
    """The client's channels as the dossier put them in the command (F-21)."""
    return [
        ContactChannel(type=c.type, value=c.value, state=c.state, is_default=c.is_default,
                       language=c.language)
        for c in command.contact_channels
    ]


def command_template(command: CommunicationRequested) -> Template | None:
    """The template the dossier resolved; None when it knows none by that code."""
    t = command.template
    if t is None:
        return None
    return Template(code=t.code, channel=t.channel, subject=t.subject, body=t.body, locale=t.locale)


def template_versions(command: CommunicationRequested) -> list[Template]:
    """Every locale's version of the template, as the dossier put them in the command (F-39)."""
    return [
        Template(code=t.code, channel=t.channel, subject=t.subject, body=t.body, locale=t.locale)
        for t in command.templates
    ]


ERROR_CAP = 2000  # characters of a reason or subject kept in an event


def sent_event(
    command: CommunicationRequested, decision: Deliver, result: SendResult, written: repo.Written
) -> EventEnvelope:
    """communication.sent with what the client's trace shows (F-23): the rendered body
    capped well under the broker's message limit (Failure rules)."""
    body, truncated = capped_body(decision.body)
    document = result.document
    return CommunicationSent(
        communication_id=command.communication_id,
        client_id=command.client_id,
        channel=command.channel,
        recipient=decision.recipient,
        dossier_id=command.dossier_id,
        intervention_id=command.intervention_id,
        attachment_id=document.id if document else None,
        template_code=command.template_code or None,
        subject=decision.subject[:ERROR_CAP],
        body=body,
        body_truncated=truncated,
        attempts=written.attempts,
        sent_at=written.sent_at,
        provider_ref=result.provider_ref,
        document=CommunicationDocument(
            filename=document.filename, content_type=document.content_type,
            size_bytes=document.size_bytes, sha256=document.sha256,
            storage_path=document.storage_path, description=document.description,
        ) if document else None,
    ).envelope(aggregate_id=command.communication_id, client_id=command.client_id)


def failed_event(command: CommunicationRequested, reject: Reject, attempts: int) -> EventEnvelope:
    """communication.failed: why nothing was sent, with the status the trace shows
    (failed, or needs_attention when a collector must fix the contact, F-21)."""
    return CommunicationFailed(
        communication_id=command.communication_id,
        client_id=command.client_id,
        channel=command.channel,
        reason=reject.reason[:ERROR_CAP],
        needs_attention=reject.needs_attention,
        dossier_id=command.dossier_id,
        intervention_id=command.intervention_id,
        status=reject.status,
        template_code=command.template_code or None,
        recipient=reject.recipient,
        attempts=attempts,
    ).envelope(aggregate_id=command.communication_id, client_id=command.client_id)
