"""The outbox relay process: `python -m relance.relay` (HTTP_PORT 8010 for /health, /metrics)."""

import asyncio

from relance.db import create_pool
from relance.health import kafka_check, postgres_check
from relance.kafka import ensure_topics, new_producer
from relance.observability import configure_logging, operations_app
from relance.outbox import OutboxRelay
from relance.runtime import serve
from relance.settings import CommonSettings


class RelaySettings(CommonSettings):
    service_name: str = "relay"
    http_port: int = 8010
    relay_batch_size: int = 500


async def main() -> None:
    settings = RelaySettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    await ensure_topics(settings.kafka_bootstrap_servers)
    pool = await create_pool(settings.database_url, max_size=3)
    producer = new_producer(settings.kafka_bootstrap_servers)
    await producer.start()
    relay = OutboxRelay(pool, producer, batch_size=settings.relay_batch_size)
    app = operations_app("relay", {"postgres": postgres_check(pool), "kafka": kafka_check(producer)})

    async def on_stop() -> None:
        relay.stop()
        await producer.stop()
        await pool.close()

    await serve(app, settings.http_port, host=settings.http_host, background=[relay.run()], on_stop=on_stop)


if __name__ == "__main__":
    asyncio.run(main())
