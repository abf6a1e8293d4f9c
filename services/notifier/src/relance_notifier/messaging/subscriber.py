"""The Kafka side of the notifier: a FastStream subscriber on `communication.commands`.

Messages are acknowledged (offset committed) only after the command was handled. A
command that keeps failing is retried a bounded number of times with backoff, then
parked in the notifier's dead letters (`relance.dead_letters`), as is at once a message
that is not an event envelope: the partition moves on."""

import structlog
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from relance.dead_letters import DeadLetters
from relance.events import EventEnvelope
from relance.kafka import at_least_once, service_broker
from relance.topics import COMMUNICATION_COMMANDS
from relance_notifier.metrics import HANDLER_FAILURES
from relance_notifier.service import Notifier
from relance_notifier.settings import Settings

log = structlog.get_logger(__name__)

GROUP_ID = "notifier"


def build_broker(settings: Settings, notifier: Notifier, dead_letters: DeadLetters) -> KafkaBroker:
    broker = service_broker(
        settings.kafka_bootstrap_servers, settings.service_name, settings.shutdown_grace_seconds
    )

    async def handle(envelope: EventEnvelope) -> None:
        try:
            await notifier.handle(envelope)
        except Exception:
            HANDLER_FAILURES.inc()
            raise

    @broker.subscriber(
        COMMUNICATION_COMMANDS,
        **at_least_once(GROUP_ID),
    )
    async def on_communication_command(message: KafkaMessage) -> None:
        await dead_letters.handle(message, handle)

    return broker
