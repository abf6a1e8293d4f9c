"""`python -m relance_dossier`: migrate the schema, then serve the dossier API with the
consumer of communication.events (the client's trace, F-23) next to it, in one loop."""

import asyncio

from relance.db import create_pool
from relance.health import broker_check
from relance.kafka import ensure_topics, run_broker
from relance.observability import configure_logging
from relance.runtime import serve
from relance.topics import COMMUNICATION_EVENTS
from relance_dossier.api.app import create_app
from relance_dossier.messaging.communication_events import build_broker
from relance_dossier.persistence.migrations import SCHEMA, upgrade
from relance_dossier.settings import Settings


async def run(settings: Settings) -> None:
    await ensure_topics(settings.kafka_bootstrap_servers, topics=(COMMUNICATION_EVENTS,))
    pool = await create_pool(settings.database_url, schema=SCHEMA, max_size=3)
    broker = build_broker(settings, pool)
    app = create_app(settings, {"kafka": broker_check(broker)})
    await serve(
        app, settings.http_port, host=settings.http_host,
        background=[run_broker(broker, "dossier")], on_stop=pool.close,
    )


def main() -> None:
    settings = Settings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    if settings.migrate_on_start:
        upgrade(settings.database_url)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
