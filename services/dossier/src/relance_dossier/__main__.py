"""`python -m relance_dossier`: migrate the schema, then serve the dossier API next to the
service's Temporal worker (the activities that change dossier data, on its own task
queue) and the consumer of communication.events (the client's trace, F-23), in one loop.
The API and the worker share one Temporal client; the worker and the consumer have their
own database pool, so a burst of activities never starves the API of connections."""

import asyncio

from relance.db import create_pool
from relance.dead_letters import DeadLetters, install_dead_letter_routes
from relance.health import broker_check
from relance.kafka import ensure_topics, run_broker
from relance.observability import configure_observability
from relance.runtime import serve
from relance.topics import COMMUNICATION_EVENTS
from relance_dossier.api.app import create_app
from relance_dossier.kpi_refresher import run_kpi_refresher
from relance_dossier.messaging.communication_events import build_broker
from relance_dossier.persistence.migrations import SCHEMA, upgrade
from relance_dossier.settings import Settings
from relance_dossier.worker import build_worker, connect


async def run(settings: Settings) -> None:
    await ensure_topics(settings.kafka_bootstrap_servers, topics=(COMMUNICATION_EVENTS,))
    pool = await create_pool(settings.database_url, schema=SCHEMA, max_size=10)
    client = await connect(settings)
    worker = build_worker(client, pool, settings)
    dead_letters = DeadLetters.from_settings(pool, settings)
    broker = build_broker(settings, pool, dead_letters)
    app = create_app(settings, temporal_client=client, checks={"kafka": broker_check(broker)})
    install_dead_letter_routes(app, dead_letters, settings.kafka_bootstrap_servers,
                               settings.internal_api_token)

    await serve(
        app, settings.http_port, host=settings.http_host,
        background=[worker.run(), run_broker(broker, "dossier"),
                    dead_letters.refresh_periodically(), run_kpi_refresher(pool, settings)],
        on_stop=pool.close,
    )


def main() -> None:
    settings = Settings()
    configure_observability(settings)
    if settings.migrate_on_start:
        upgrade(settings.database_url)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
