"""The Kafka side of the signal bridge: one batch subscriber on the bridge's topics.

Events are fetched in batches (up to BRIDGE_BATCH_SIZE) and handed to the bridge in lanes,
one per Kafka key (the client id, relance.lanes): a client's events one after the other,
in their order, and up to BRIDGE_CONCURRENCY clients at once. Each event is one Temporal
call (a start or a signal); one at a time, a burst of transfers waited for its workflow
starts behind each other, and every message paid its own offset commit. The batch is
acknowledged once every event in it was handled; if the bridge stops before, the batch is
delivered again and the workflows ignore what they have seen (their event ids, business-key
ids for starts). An event that keeps failing is parked in the bridge's dead letters."""

import structlog
from faststream.kafka import KafkaBroker

from relance.dead_letters import DeadLetters
from relance.events import EventEnvelope
from relance.kafka import service_broker, subscribe_in_lanes
from relance_workflow.messaging.bridge import BRIDGE_GROUP, BRIDGE_TOPICS, SignalBridge
from relance_workflow.settings import Settings


def build_bridge_broker(
    settings: Settings,
    bridge: SignalBridge,
    dead_letters: DeadLetters,
    *,
    topics: tuple[str, ...] = BRIDGE_TOPICS,
    group_id: str = BRIDGE_GROUP,
) -> KafkaBroker:
    broker = service_broker(settings.kafka_bootstrap_servers, settings.service_name)

    async def handle(envelope: EventEnvelope) -> None:
        with structlog.contextvars.bound_contextvars(event_id=str(envelope.event_id)):
            await bridge.handle(envelope)

    subscribe_in_lanes(broker, *topics, group_id=group_id, batch_size=settings.bridge_batch_size,
                       concurrency=settings.bridge_concurrency, dead_letters=dead_letters,
                       handle=handle)
    return broker
