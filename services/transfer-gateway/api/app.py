"""The transfer gateway: the API collection agencies integrate with (F-31).

The foundation serves its operations endpoints; placements, cancellation requests and
the agencies' callbacks are built on this app by the transfers work."""

from contextlib import asynccontextmanager

from fastapi import FastAPI

from relance.db import create_pool
from relance.health import kafka_check, postgres_check
from relance.kafka import new_producer
from relance.observability import add_health_and_metrics
from relance_gateway.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.pool = await create_pool(settings.database_url, max_size=5)
        app.state.producer = new_producer(settings.kafka_bootstrap_servers)
        await app.state.producer.start()
        try:
            yield
        finally:
            await app.state.producer.stop()
            await app.state.pool.close()

    app = FastAPI(
        title="Relance transfer gateway",
        version="0.1.0",
        description="The API collection agencies integrate with: placements, cancellation "
        "requests, acknowledgements, validations, payments (F-31).",
        lifespan=lifespan,
    )

    async def database() -> None:
        await postgres_check(app.state.pool)()

    async def kafka() -> None:
        await kafka_check(app.state.producer)()

    add_health_and_metrics(app, {"postgres": database, "kafka": kafka})
    return app
