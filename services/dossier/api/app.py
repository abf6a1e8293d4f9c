"""The dossier API application."""

from contextlib import asynccontextmanager

from fastapi import FastAPI

from relance.db import create_pool
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from relance.health import postgres_check, temporal_check
from relance.observability import add_health_and_metrics
from relance_dossier.api import clients
from relance_dossier.api.auth import ensure_bootstrap_admin
from relance_dossier.api.errors import install_error_handlers
from relance_dossier.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.pool = await create_pool(settings.database_url, max_size=10)
        # Commands that need an immediate answer from a workflow (cancel a transfer, mark an
        # intervention Done) are Temporal Updates sent from here.
        app.state.temporal = await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=pydantic_data_converter,
        )
        app.state.settings = settings
        if settings.bootstrap_admin_token:
            await ensure_bootstrap_admin(app.state.pool, settings.bootstrap_admin_token)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(
        title="Relance dossier API",
        version="0.1.0",
        description="Client accounts, items, dossiers, contacts, interventions and the "
        "client's communication trace. Rule ids (F-…) refer to the product specification.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(clients.router)

    async def database() -> None:
        await postgres_check(app.state.pool)()

    async def temporal() -> None:
        await temporal_check(app.state.temporal)()

    add_health_and_metrics(app, {"postgres": database, "temporal": temporal})
    return app
