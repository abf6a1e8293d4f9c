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
4. In one transaction: claim the event, upsert the communication with its outcome (and
   a letter's PDF as a client document) and write CommunicationSent /
   CommunicationFailed to the outbox.

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
    CommunicationFailed,
    CommunicationRequested,
    CommunicationSent,
    EventEnvelope,
)
from relance.outbox import write_events
from relance_notifier.channels.base import (
    Channel,
    OutgoingMessage,
    PermanentSendError,
    SendResult,
    TransientSendError,
    backoff_delay,
)
from relance_notifier.domain.communication import (
    FAILED,
    SENDING,
    SENT,
    Deliver,
    Reject,
    decide,
)
from relance_notifier.domain.contacts import contact_type_for
from relance_notifier.domain.delivery import delivery_status_for
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
UNKNOWN_CLIENT = "unknown client"


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
        async with self._pool.acquire() as conn:
            # Everything the decision needs in one round trip (a morning batch is bound
            # by database round trips, not by rendering).
            context = await repo.load_command_context(
                conn,
                CONSUMER,
                event_id,
                command.communication_id,
                command.client_id,
                contact_type_for(command.channel),
                command.template_code,
            )
            prior = context.prior
            if prior.event_processed or prior.status == SENT:
                COMMANDS_SKIPPED.labels("duplicate").inc()
                log.info("communication.duplicate_skipped", status=prior.status)
                return
            if not context.client_exists:
                await self._unknown_client(conn, event_id, command)
                return
            channels, template = context.channels, context.template

        decision = decide(
            command, channels=channels, template=template, supported_channels=self._channels
        )
        if isinstance(decision, Reject):
            await self._finish_rejected(event_id, command, decision, attempts=0)
            return
        await self._deliver(event_id, command, decision)

    async def _deliver(
        self, event_id: UUID, command: CommunicationRequested, decision: Deliver
    ) -> None:
        async with self._pool.acquire() as conn:
            started = await repo.upsert_communication(
                conn, self._record(
                    command, status=SENDING, recipient=decision.recipient,
                    subject=decision.subject, body=decision.body,
                )
            )
        if not started:  # sent meanwhile under another event id
            COMMANDS_SKIPPED.labels("duplicate").inc()
            log.info("communication.duplicate_skipped", status=SENT)
            return

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

        event = CommunicationSent(
            communication_id=command.communication_id,
            client_id=command.client_id,
            channel=command.channel,
            recipient=decision.recipient,
            dossier_id=command.dossier_id,
            intervention_id=command.intervention_id,
            attachment_id=result.document.id if result.document else None,
        ).envelope(aggregate_id=command.communication_id, client_id=command.client_id)
        record = self._record(
            command, status=SENT, recipient=decision.recipient, subject=decision.subject,
            body=decision.body, attempts=attempts, result=result,
        )
        # One transaction: the event claimed, the trace 'sent', the letter's document and
        # the outbox event (F-23) — all or nothing.
        async with self._pool.acquire() as conn, conn.transaction():
            if await claim_event(conn, CONSUMER, event_id) and await repo.upsert_communication(
                conn, record
            ):
                if result.document is not None:
                    await repo.insert_document(conn, result.document)
                await write_events(conn, [event])
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
            written = await claim_event(
                conn, CONSUMER, event_id
            ) and await repo.upsert_communication(conn, record)
            if written:
                await write_events(conn, [self._failed_event(command, reject)])
        if not written:
            return
        COMMUNICATIONS.labels(command.channel, reject.status).inc()
        log.warning("communication.not_sent", status=reject.status, reason=reject.reason)

    async def _unknown_client(
        self, conn: asyncpg.Connection, event_id: UUID, command: CommunicationRequested
    ) -> None:
        """No communications row can reference a client that does not exist: report it."""
        reject = Reject(status=FAILED, reason=UNKNOWN_CLIENT, needs_attention=True)
        async with conn.transaction():
            if await claim_event(conn, CONSUMER, event_id):
                await write_events(conn, [self._failed_event(command, reject)])
        COMMUNICATIONS.labels(command.channel, FAILED).inc()
        log.warning("communication.not_sent", status=FAILED, reason=UNKNOWN_CLIENT)

    @staticmethod
    def _failed_event(command: CommunicationRequested, reject: Reject) -> EventEnvelope:
        return CommunicationFailed(
            communication_id=command.communication_id,
            client_id=command.client_id,
            channel=command.channel,
            reason=reject.reason,
            needs_attention=reject.needs_attention,
            dossier_id=command.dossier_id,
            intervention_id=command.intervention_id,
        ).envelope(aggregate_id=command.communication_id, client_id=command.client_id)

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
