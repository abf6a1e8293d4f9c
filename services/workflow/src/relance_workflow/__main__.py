"""`python -m relance_workflow`: the Temporal worker (workflows only: their dossier
activities run in the dossier service), the Kafka signal bridge, and /health + /metrics
on HTTP_PORT (8300). The service holds no database connection."""

import asyncio

import structlog

from relance.events import EventEnvelope
from relance.health import broker_check, temporal_check
from relance.kafka import at_least_once, ensure_topics, service_broker
from relance.observability import configure_observability, operations_app
from relance.runtime import serve
from relance_workflow.messaging.bridge import BRIDGE_GROUP, BRIDGE_TOPICS, SignalBridge
from relance_workflow.settings import Settings
from relance_workflow.worker import build_worker, connect

log = structlog.get_logger(__name__)


async def main() -> None:
    settings = Settings()
    configure_observability(settings)
    await ensure_topics(settings.kafka_bootstrap_servers)
    client = await connect(settings)
    worker = build_worker(client, settings)
    bridge = SignalBridge(client, settings.temporal_task_queue, settings)

    broker = service_broker(settings.kafka_bootstrap_servers, settings.service_name)

    @broker.subscriber(*BRIDGE_TOPICS, **at_least_once(BRIDGE_GROUP))
    async def on_event(envelope: EventEnvelope) -> None:
        with structlog.contextvars.bound_contextvars(event_id=str(envelope.event_id)):
            await bridge.handle(envelope)

    app = operations_app(
        "workflow",
        {"temporal": temporal_check(client), "kafka": broker_check(broker)},
    )
    await broker.start()

    async def on_stop() -> None:
        await broker.stop()

    await serve(app, settings.http_port, host=settings.http_host, background=[worker.run()], on_stop=on_stop)


if __name__ == "__main__":
    asyncio.run(main())
