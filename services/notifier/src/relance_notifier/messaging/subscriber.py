"""The Kafka side of the notifier: a FastStream subscriber on `communication.commands`.

Commands are fetched in batches (up to CONSUMER_BATCH_SIZE) and handled in lanes, one per
Kafka key (the client id): a client's commands one after the other, in their order, and
up to SEND_CONCURRENCY clients at once (relance.lanes). The batch is acknowledged
(offsets committed) only once every command in it was handled; if the consumer stops
before, the whole batch is delivered again and what was done is skipped on its event id
(F-32: nothing sent twice).

A command that keeps failing is retried a bounded number of times with backoff, then
parked in the notifier's dead letters (`relance.dead_letters`), as is at once a message
that is not an event envelope: its lane, then the partition, move on."""

from faststream.kafka import KafkaBroker

from relance.dead_letters import DeadLetters
from relance.events import EventEnvelope
from relance.kafka import service_broker, subscribe_in_lanes
from relance.topics import COMMUNICATION_COMMANDS
from relance_notifier.metrics import HANDLER_FAILURES
from relance_notifier.service import Notifier
from relance_notifier.settings import Settings

GROUP_ID = "notifier"


def build_broker(
    settings: Settings,
    notifier: Notifier,
    dead_letters: DeadLetters,
    *,
    topic: str = COMMUNICATION_COMMANDS,
    group_id: str = GROUP_ID,
) -> KafkaBroker:
    broker = service_broker(
        settings.kafka_bootstrap_servers, settings.service_name, settings.shutdown_grace_seconds
    )

    async def handle(envelope: EventEnvelope) -> None:
        try:
            await notifier.handle(envelope)
        except Exception:
            HANDLER_FAILURES.inc()
            raise

    subscribe_in_lanes(broker, topic, group_id=group_id, batch_size=settings.consumer_batch_size,
                       concurrency=settings.send_concurrency, dead_letters=dead_letters,
                       handle=handle)
    return broker
