"""The dossier API application."""

from collections.abc import Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from temporalio.client import Client

from relance.api.errors import install_error_handlers
from relance.api.openapi import document_api
from relance.claims import payload_router
from relance.db import create_pool
from relance.health import postgres_check, temporal_check
from relance.observability import add_health_and_metrics, install_request_logging
from relance_dossier.agency_registry import AgencyRegistry
from relance_dossier.api import (
    actions,
    agenda,
    assignment,
    attachments,
    audit,
    clients,
    collectors,
    communications,
    contacts,
    exports,
    imports,
    internal,
    interventions,
    introspection,
    kpis,
    late_fees,
    notes,
    payment_plans,
    scenarios,
    search,
    sessions,
    transfers,
    users,
)
from relance_dossier.api.auth import ensure_bootstrap_admin
from relance_dossier.api.limits import MULTIPART_OVERHEAD, install_upload_limits
from relance_dossier.domain.accounts import DomainError
from relance_dossier.metrics import install_transfer_metrics
from relance_dossier.persistence.migrations import SCHEMA
from relance_dossier.settings import Settings
from relance_dossier.worker import connect


def create_app(
    settings: Settings,
    temporal_client: Client | None = None,
    checks: Mapping[str, Callable[[], Awaitable[None]]] | None = None,
) -> FastAPI:
    """The API; `temporal_client` is the process's own when the service's worker shares it
    (`python -m relance_dossier`), else the app connects its own; `checks`: more /health
    checks, e.g. the trace consumer's broker."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.pool = await create_pool(settings.database_url, schema=SCHEMA, max_size=10)
        # Commands that need an immediate answer from a workflow (cancel a transfer, mark an
        # intervention Done) are Temporal Updates sent from here.
        app.state.temporal = temporal_client or await connect(settings)
        app.state.settings = settings
        http = httpx.AsyncClient(follow_redirects=False)
        app.state.agency_registry = AgencyRegistry(
            http, settings.gateway_api_url, internal_token=settings.internal_api_token,
            timeout_seconds=settings.gateway_api_timeout_seconds,
            cache_seconds=settings.agency_registry_cache_seconds,
        )
        if settings.bootstrap_admin_token:
            await ensure_bootstrap_admin(app.state.pool, settings.bootstrap_admin_token)
        try:
            yield
        finally:
            await http.aclose()
            await app.state.pool.close()

    app = FastAPI(
        title="Relance dossier API",
        version="0.1.0",
        description="Client accounts, items, dossiers, contacts, interventions and the "
        "client's communication trace. Rule ids (F-…) refer to the product specification.",
        lifespan=lifespan,
        # Served from the service itself (relance.api.openapi), not from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app, field_errors=(DomainError,))
    # Issue 10: uploads are capped as their bytes arrive (413), never buffered whole.
    install_upload_limits(app, [
        (r"/imports/[^/]+", settings.import_max_bytes + MULTIPART_OVERHEAD),
        (r"/clients/[^/]+/attachments", settings.attachment_max_bytes + MULTIPART_OVERHEAD),
        (r"/interventions/[^/]+/document", interventions.DOCUMENT_MAX_BYTES + MULTIPART_OVERHEAD),
    ])
    install_request_logging(app)
    # Fixed paths such as /clients/search come before the /clients/{code} routes.
    app.include_router(search.router)
    app.include_router(assignment.router)
    app.include_router(collectors.router)
    app.include_router(users.router)
    app.include_router(introspection.router)
    app.include_router(sessions.router)
    app.include_router(clients.router)
    app.include_router(contacts.router)
    app.include_router(notes.router)
    app.include_router(attachments.router)
    app.include_router(audit.router)
    app.include_router(transfers.router)
    app.include_router(communications.router)
    app.include_router(imports.router)
    app.include_router(scenarios.router)
    app.include_router(interventions.router)
    app.include_router(actions.router)
    app.include_router(agenda.router)
    app.include_router(payment_plans.router)
    app.include_router(kpis.router)
    app.include_router(late_fees.router)
    app.include_router(exports.router)
    app.include_router(internal.router)
    # Issue 10: the payloads of events too large for a message, read back by their consumers.
    app.include_router(payload_router())
    install_transfer_metrics(app)

    async def database() -> None:
        await postgres_check(app.state.pool)()

    async def temporal() -> None:
        await temporal_check(app.state.temporal)()

    add_health_and_metrics(app, {"postgres": database, "temporal": temporal, **(checks or {})})
    document_api(app)
    return app
