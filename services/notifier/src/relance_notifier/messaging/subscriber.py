"""The Kafka side of the notifier: a FastStream subscriber on `communication.commands`.

Messages are acknowledged (offset committed) only after the command was handled; an
error leaves the message unacknowledged (NACK_ON_ERROR seeks back to it) so Kafka
delivers it again after a short pause. A message that can never be read (not an event
envelope) is logged, counted and acknowledged: a dead-letter topic is not there yet."""

import asyncio

import structlog
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from relance.events import EventEnvelope
from relance.kafka import at_least_once, service_broker
from relance.topics import COMMUNICATION_COMMANDS
from relance_notifier.metrics import COMMANDS_SKIPPED, HANDLER_FAILURES
from relance_notifier.service import Notifier
from relance_notifier.settings import Settings

log = structlog.get_logger(__name__)

GROUP_ID = "notifier"


def decode_envelope(body: bytes) -> EventEnvelope | None:
    try:
        return EventEnvelope.model_validate_json(body)
    except ValidationError as exc:
        log.error("notifier.message_unreadable", error=str(exc)[:500], size=len(body))
        return None


async def handle_message(notifier: Notifier, body: bytes, *, redelivery_delay: float) -> None:
    envelope = decode_envelope(body)
    if envelope is None:
        COMMANDS_SKIPPED.labels("invalid").inc()
        return
    try:
        await notifier.handle(envelope)
    except ValidationError as exc:  # a known event type whose payload cannot be read
        COMMANDS_SKIPPED.labels("invalid").inc()
        log.error(
            "notifier.payload_invalid",
            event_id=str(envelope.event_id),
            event_type=envelope.event_type,
            error=str(exc)[:500],
        )
    except Exception as exc:
        HANDLER_FAILURES.inc()
        log.warning(
            "notifier.redelivery",
            event_id=str(envelope.event_id),
            error=repr(exc)[:500],
            retry_in=redelivery_delay,
        )
        await asyncio.sleep(redelivery_delay)
        raise


def build_broker(settings: Settings, notifier: Notifier) -> KafkaBroker:
    broker = service_broker(
        settings.kafka_bootstrap_servers, settings.service_name, settings.shutdown_grace_seconds
    )

    @broker.subscriber(
        COMMUNICATION_COMMANDS,
        **at_least_once(GROUP_ID),
    )
    async def on_communication_command(message: KafkaMessage) -> None:
        await handle_message(
            notifier, message.body, redelivery_delay=settings.redelivery_delay_seconds
        )

    return broker
