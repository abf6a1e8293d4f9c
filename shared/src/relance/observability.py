"""Structured logs, traces, Prometheus metrics and the `/health` + `/metrics` endpoints every
service serves. `/health` answers 200 only when the service's own dependencies answer.

Logs: one structlog configuration for our loggers and the standard library's (uvicorn,
temporalio, aiokafka, faststream), JSON with `LOG_JSON=true` (a logged exception carries its
traceback), each line with the trace id, request id, event id and workflow id where known.
Traces: OpenTelemetry, exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set
(off when empty). Metrics: `http_requests_total` and `http_request_duration_seconds` per
route template on every API."""

import asyncio
import contextlib
import logging
import sys
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping

import structlog
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

HealthCheck = Callable[[], Awaitable[None]]

# The standard library's loggers that go through the same rendering as ours.
FOREIGN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "temporalio", "aiokafka",
                   "faststream", "faststream.access", "alembic", "httpx")

_service = "relance"


def _add_trace_ids(_logger: object, _method: str, event_dict: dict) -> dict:
    """The current span's trace and span ids, when a trace is being recorded."""
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event_dict.setdefault("trace_id", format(span_context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(span_context.span_id, "016x"))
    return event_dict


def _add_temporal_ids(_logger: object, _method: str, event_dict: dict) -> dict:
    """The workflow id (and activity) of the Temporal activity or workflow logging."""
    if "workflow_id" in event_dict:
        return event_dict
    try:
        from temporalio import activity, workflow

        if activity.in_activity():
            info = activity.info()
            event_dict["workflow_id"] = info.workflow_id
            event_dict.setdefault("activity", info.activity_type)
        elif workflow.in_workflow():
            event_dict["workflow_id"] = workflow.info().workflow_id
    except Exception:  # noqa: BLE001 - a log line never fails for its context
        pass
    return event_dict


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a line is logged (a test's capture too)."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging(service: str, level: str = "INFO", json_output: bool = False) -> None:
    """Configure structlog and the standard library's logging as one: every line, ours or
    uvicorn's, temporalio's, aiokafka's or faststream's, goes through the same processors
    and renderer (JSON with `json_output`, exceptions with their traceback)."""
    global _service
    _service = service
    level_number = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    shared: list = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
        _add_temporal_ids,
    ]
    if json_output:
        renderers: list = [
            structlog.processors.format_exc_info,
            structlog.processors.UnicodeDecoder(),
            structlog.processors.JSONRenderer(),
        ]
    else:
        renderers = [structlog.dev.ConsoleRenderer(colors=False)]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderers],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level_number)
    for name in FOREIGN_LOGGERS:
        foreign = logging.getLogger(name)
        foreign.handlers.clear()
        foreign.propagate = True
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def configure_tracing(service: str, endpoint: str = "") -> bool:
    """Export this process's spans over OTLP/HTTP to `endpoint` (the collector's base URL,
    e.g. http://jaeger:4318); tracing stays off (no exporter, no cost) when it is empty.
    Returns whether spans are exported."""
    if not endpoint:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    url = endpoint.rstrip("/")
    if not url.endswith("/v1/traces"):
        url += "/v1/traces"
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url), schedule_delay_millis=1000))
    trace.set_tracer_provider(provider)
    return True


def configure_observability(settings: object) -> None:
    """Logs and traces for a service's process, from its settings."""
    service = getattr(settings, "service_name", "relance")
    configure_logging(service, getattr(settings, "log_level", "INFO"), getattr(settings, "log_json", False))
    configure_tracing(
        getattr(settings, "otel_service_name", "") or f"relance-{service}",
        getattr(settings, "otel_exporter_otlp_endpoint", ""),
    )


def tracer() -> trace.Tracer:
    return trace.get_tracer("relance")


def current_trace_context() -> dict[str, str]:
    """The W3C trace context (`traceparent`, `tracestate`) of the current span, to store
    with an outbox row or send as message headers; empty outside any trace."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from(carrier: Mapping[str, str] | None) -> otel_context.Context:
    return propagate.extract(dict(carrier or {}))


@contextlib.contextmanager
def traced(name: str, kind: trace.SpanKind = trace.SpanKind.INTERNAL, **attributes: object) -> Iterator[trace.Span]:
    """A span around an outgoing call (SMTP, SMS, webhook); an exception is recorded on it."""
    attrs = {k: v for k, v in attributes.items() if v is not None}
    with tracer().start_as_current_span(name, kind=kind, attributes=attrs) as span:  # type: ignore[arg-type]
        yield span


HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests served", ["service", "method", "route", "status"]
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds", "Time to serve an HTTP request",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class HttpMetricsMiddleware:
    """Count and time every request by its route template (`/clients/{code}`, not the raw
    path; `unmatched` for a path no route serves), method and status."""

    def __init__(self, app, service: str | None = None) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"
            labels = (self.service or _service, scope.get("method", ""), template, str(status["code"]))
            HTTP_REQUESTS.labels(*labels).inc()
            HTTP_REQUEST_DURATION.labels(*labels).observe(time.perf_counter() - started)


def instrument_api(app: FastAPI, service: str | None = None, tracer_provider=None) -> None:
    """HTTP metrics and OpenTelemetry spans (continuing the caller's `traceparent`); once
    per app (`add_health_and_metrics` calls it)."""
    if getattr(app.state, "relance_instrumented", False):
        return
    app.state.relance_instrumented = True
    app.add_middleware(HttpMetricsMiddleware, service=service)
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="/health,/metrics", tracer_provider=tracer_provider)


def add_health_and_metrics(app: FastAPI, checks: dict[str, HealthCheck], service: str | None = None) -> None:
    """Mount `/health` (each named check must pass), `/metrics` and `/asyncapi` (the
    events contract) on `app`, and instrument the app (HTTP metrics per route, traces)."""
    from relance.asyncapi import add_asyncapi_route

    instrument_api(app, service)
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
        body = generate_latest()
        for url in _metric_sources:
            body += await _scrape(url)
        return Response(body, media_type=CONTENT_TYPE_LATEST)


# Other exposition endpoints of this process (the Temporal runtime's), appended to /metrics.
_metric_sources: list[str] = []


def add_metrics_source(url: str) -> None:
    if url not in _metric_sources:
        _metric_sources.append(url)


async def _scrape(url: str) -> bytes:
    def fetch() -> bytes:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - a loopback URL of ours
            return answer.read()

    try:
        text = await asyncio.to_thread(fetch)
    except OSError as exc:
        structlog.get_logger(__name__).warning("metrics.source_unreachable", url=url, error=repr(exc))
        return b""
    return text if text.endswith(b"\n") or not text else text + b"\n"


def operations_app(service: str, checks: dict[str, HealthCheck]) -> FastAPI:
    """A small app with only `/health` and `/metrics`, for services with no API."""
    app = FastAPI(title=f"Relance {service} (operations)", docs_url=None, redoc_url=None)
    add_health_and_metrics(app, checks, service=service)
    return app


def install_request_logging(app: FastAPI) -> None:
    """Bind a request id (the caller's `X-Request-ID`, or a new one) to every log line of a
    request, echo it in the response, and log one line per request."""
    log = structlog.get_logger("http")

    @app.middleware("http")
    async def request_context(request, call_next):
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        # The request id on the request's span too: from a log line to its trace and back.
        trace.get_current_span().set_attribute("relance.request_id", request_id)
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
