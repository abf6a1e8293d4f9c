"""The outbox relay process: `python -m relance.relay` (HTTP_PORT 8010 for /health, /metrics).

Each service that writes events has its outbox in its own schema; the relay runs one claim
loop per schema (OUTBOX_SCHEMAS), each with its own small pool."""

import asyncio

from relance.db import create_pool
from relance.health import kafka_check, postgres_check
from relance.kafka import ensure_topics, new_producer
from relance.observability import configure_observability, operations_app
from relance.outbox import OutboxRelay
from relance.runtime import serve
from relance.settings import CommonSettings


class RelaySettings(CommonSettings):
    service_name: str = "relay"
    http_port: int = 8010
    relay_batch_size: int = 500
    # The schemas whose `outbox` table the relay publishes (the services that write events).
    outbox_schemas: list[str] = ["dossier", "gateway", "notifier"]
    # A row the broker refuses this many times while others go out is parked (alerted on).
    outbox_max_attempts: int = 5
    # Published rows and processed event ids older than this are pruned, in small batches.
    outbox_retention_days: float = 7.0
    outbox_prune_batch: int = 1000


async def main() -> None:
    settings = RelaySettings()
    configure_observability(settings)
    await ensure_topics(settings.kafka_bootstrap_servers)
    pools = {
        # The listener, the claim loops (each in its own transaction) and the pruner.
        schema: await create_pool(settings.database_url, schema=schema, max_size=5)
        for schema in settings.outbox_schemas
    }
    producer = new_producer(settings.kafka_bootstrap_servers)
    await producer.start()
    relays = [
        OutboxRelay(
            pool, producer, batch_size=settings.relay_batch_size, schema=schema,
            max_attempts=settings.outbox_max_attempts,
            retention_seconds=settings.outbox_retention_days * 86400,
            prune_batch=settings.outbox_prune_batch,
        )
        for schema, pool in pools.items()
    ]
    checks = {f"postgres:{schema}": postgres_check(pool) for schema, pool in pools.items()}
    app = operations_app("relay", {**checks, "kafka": kafka_check(producer)})

    async def on_stop() -> None:
        for relay in relays:
            relay.stop()
        await producer.stop()
        for pool in pools.values():
            await pool.close()

    await serve(
        app, settings.http_port, host=settings.http_host,
        background=[relay.run() for relay in relays], on_stop=on_stop,
    )


if __name__ == "__main__":
    asyncio.run(main())
