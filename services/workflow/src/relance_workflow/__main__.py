"""`python -m relance_workflow`: the Temporal worker (workflows only: their dossier
activities run in the dossier service) with the late-fee run it keeps going (F-38), the
Kafka signal bridge, and /health + /metrics
(and the bridge's dead letters, /operations/dead-letters) on HTTP_PORT (8300). Its own
schema holds only the bridge's dead letters; the workflows' state is in Temporal."""

import asyncio

import structlog
from temporalio.service import RPCError, RPCStatusCode

from relance.db import create_pool
from relance.dead_letters import DeadLetters, default_transient, install_dead_letter_routes
from relance.health import broker_check, postgres_check, temporal_check
from relance.kafka import ensure_topics
from relance.observability import configure_observability, operations_app
from relance.runtime import serve
from relance_workflow.messaging.bridge import SignalBridge
from relance_workflow.messaging.subscriber import build_bridge_broker
from relance_workflow.persistence.migrations import SCHEMA
from relance_workflow.settings import Settings
from relance_workflow.standing import ensure_late_fee_run
from relance_workflow.worker import build_worker, connect

log = structlog.get_logger(__name__)

# Temporal not answering is an outage, not a poison message: retried, never parked.
TEMPORAL_OUTAGE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED,
                   RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.CANCELLED}


def bridge_transient(error: BaseException) -> bool:
    if isinstance(error, RPCError) and error.status in TEMPORAL_OUTAGE:
        return True
    return default_transient(error)


async def main() -> None:
    settings = Settings()
    configure_observability(settings)
    await ensure_topics(settings.kafka_bootstrap_servers)
    client = await connect(settings)
    worker = build_worker(client, settings)
    await ensure_late_fee_run(client, task_queue=settings.temporal_task_queue,
                              dossier_task_queue=settings.temporal_dossier_task_queue)
    bridge = SignalBridge(client, settings.temporal_task_queue, settings)

    pool = await create_pool(settings.database_url, schema=SCHEMA, max_size=3)
    dead_letters = DeadLetters.from_settings(pool, settings, transient=bridge_transient)

    broker = build_bridge_broker(settings, bridge, dead_letters)

    app = operations_app(
        "workflow",
        {"temporal": temporal_check(client), "kafka": broker_check(broker),
         "postgres": postgres_check(pool)},
    )
    install_dead_letter_routes(app, dead_letters, settings.kafka_bootstrap_servers,
                               settings.internal_api_token)
    await broker.start()

    async def on_stop() -> None:
        await broker.stop()
        await pool.close()

    await serve(app, settings.http_port, host=settings.http_host,
                background=[worker.run(), dead_letters.refresh_periodically()], on_stop=on_stop)


if __name__ == "__main__":
    asyncio.run(main())
