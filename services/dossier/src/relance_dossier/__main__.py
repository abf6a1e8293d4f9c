"""`python -m relance_dossier`: migrate the schema, then serve the dossier API next to the
service's Temporal worker (the activities that change dossier data, on its own task
queue). They share one Temporal client; each has its own database pool, so a burst of
activities never starves the API of connections."""

import asyncio

from relance.db import create_pool
from relance.observability import configure_logging
from relance.runtime import serve
from relance_dossier.api.app import create_app
from relance_dossier.persistence.migrations import SCHEMA, upgrade
from relance_dossier.settings import Settings
from relance_dossier.worker import build_worker, connect


async def run(settings: Settings) -> None:
    pool = await create_pool(settings.database_url, schema=SCHEMA, max_size=10)
    client = await connect(settings)
    worker = build_worker(client, pool, settings)
    app = create_app(settings, temporal_client=client)

    async def on_stop() -> None:
        await pool.close()

    await serve(app, settings.http_port, host=settings.http_host, background=[worker.run()],
                on_stop=on_stop)


def main() -> None:
    settings = Settings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    if settings.migrate_on_start:
        upgrade(settings.database_url)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
