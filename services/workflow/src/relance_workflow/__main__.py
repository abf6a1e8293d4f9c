"""`python -m relance_workflow`: the Temporal worker, the Kafka signal bridge, and
/health + /metrics on HTTP_PORT (8300)."""

import asyncio

import structlog

from relance.db import create_pool
from relance.events import EventEnvelope
from relance.health import broker_check, postgres_check, temporal_check
from relance.kafka import at_least_once, ensure_topics, service_broker
from relance.observability import configure_logging, operations_app
from relance.runtime import serve
from relance_workflow.messaging.bridge import BRIDGE_GROUP, BRIDGE_TOPICS, SignalBridge
from relance_workflow.settings import Settings
from relance_workflow.worker import build_worker, connect

log = structlog.get_logger(__name__)


async def main() -> None:
    settings = Settings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    await ensure_topics(settings.kafka_bootstrap_servers)
    pool = await create_pool(settings.database_url, schema="dossier", max_size=10)
    client = await connect(settings)
    worker = build_worker(client, pool, settings)
    bridge = SignalBridge(client, settings.temporal_task_queue, settings)

    broker = service_broker(settings.kafka_bootstrap_servers, settings.service_name)

    @broker.subscriber(*BRIDGE_TOPICS, **at_least_once(BRIDGE_GROUP))
    async def on_event(envelope: EventEnvelope) -> None:
        with structlog.contextvars.bound_contextvars(event_id=str(envelope.event_id)):
            await bridge.handle(envelope)

    app = operations_app(
        "workflow",
        {"postgres": postgres_check(pool), "temporal": temporal_check(client),
         "kafka": broker_check(broker)},
    )
    await broker.start()

    async def on_stop() -> None:
        await broker.stop()
        await pool.close()

    await serve(app, settings.http_port, host=settings.http_host, background=[worker.run()], on_stop=on_stop)


if __name__ == "__main__":
    asyncio.run(main())
