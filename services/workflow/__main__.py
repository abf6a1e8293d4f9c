"""`python -m relance_workflow`: the Temporal worker, the Kafka signal bridge, and
/health + /metrics on HTTP_PORT (8300)."""

import asyncio

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from relance.db import create_pool
from relance.events import EventEnvelope
from relance.health import postgres_check, temporal_check
from relance.kafka import ensure_topics
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
    pool = await create_pool(settings.database_url, max_size=10)
    client = await connect(settings)
    worker = build_worker(client, pool, settings)
    bridge = SignalBridge(client, settings.temporal_task_queue, settings)

    broker = KafkaBroker(settings.kafka_bootstrap_servers, logger=None)

    @broker.subscriber(
        *BRIDGE_TOPICS,
        group_id=BRIDGE_GROUP,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def on_event(envelope: EventEnvelope) -> None:
        with structlog.contextvars.bound_contextvars(event_id=str(envelope.event_id)):
            await bridge.handle(envelope)

    async def kafka() -> None:
        if not await broker.ping(timeout=3):
            raise ConnectionError("Kafka broker unreachable")

    app = operations_app(
        "workflow",
        {"postgres": postgres_check(pool), "temporal": temporal_check(client), "kafka": kafka},
    )
    await broker.start()

    async def on_stop() -> None:
        await broker.stop()
        await pool.close()

    await serve(app, settings.http_port, host=settings.http_host, background=[worker.run()], on_stop=on_stop)


if __name__ == "__main__":
    asyncio.run(main())
