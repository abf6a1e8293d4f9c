"""Structured logs, Prometheus metrics and the `/health` + `/metrics` endpoints every
service serves. `/health` answers 200 only when the service's own dependencies answer."""

import logging
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

HealthCheck = Callable[[], Awaitable[None]]


def configure_logging(service: str, level: str = "INFO", json_output: bool = False) -> None:
    logging.basicConfig(stream=sys.stderr, level=level, format="%(message)s")
    renderer = (
        structlog.processors.JSONRenderer()
        if json_output
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def add_health_and_metrics(app: FastAPI, checks: dict[str, HealthCheck]) -> None:
    """Mount `/health` (each named check must pass), `/metrics` and `/asyncapi` (the
    events contract) on `app`."""
    from relance.asyncapi import add_asyncapi_route

    add_asyncapi_route(app)

    @app.get("/health", tags=["operations"], summary="Ready when every dependency answers")
    async def health() -> JSONResponse:
        results: dict[str, str] = {}
        healthy = True
        for name, check in checks.items():
            try:
                await check()
                results[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - a health probe reports, never raises
                healthy = False
                results[name] = f"error: {exc!r}"[:300]
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable", "checks": results},
            status_code=200 if healthy else 503,
        )

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def operations_app(service: str, checks: dict[str, HealthCheck]) -> FastAPI:
    """A small app with only `/health` and `/metrics`, for services with no API."""
    app = FastAPI(title=f"Relance {service} (operations)", docs_url=None, redoc_url=None)
    add_health_and_metrics(app, checks)
    return app


def install_request_logging(app: FastAPI) -> None:
    """Bind a request id (the caller's `X-Request-ID`, or a new one) to every log line of a
    request, echo it in the response, and log one line per request."""
    log = structlog.get_logger("http")

    @app.middleware("http")
    async def request_context(request, call_next):
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            response = await call_next(request)
            if request.url.path not in ("/health", "/metrics"):
                log.info(
                    "http.request",
                    method=request.method,
                    path=request.url.path,
                    status=response.status_code,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )
        response.headers["X-Request-ID"] = request_id
        return response
