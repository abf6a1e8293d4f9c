"""The Temporal client of a service's process: the pydantic data converter, OpenTelemetry
tracing (`TracingInterceptor`: a workflow started or signalled from a traced request or
message continues its trace, and so do its activities on every worker built on this
client), and the SDK's metrics (`temporal_*`) from the process's runtime.

The runtime serves its Prometheus metrics on a loopback port of its own
(`TEMPORAL_METRICS_PORT`, a free one when 0); the service's `/metrics` appends them, so the
worker's one scrape target carries both (`relance.observability.add_metrics_source`)."""

import logging
import socket

from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from relance.observability import add_metrics_source
from relance.settings import CommonSettings

_runtime: Runtime | None = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def metrics_runtime(port: int = 0, host: str = "127.0.0.1") -> Runtime:
    """The process's one runtime with Prometheus metrics on `host:port` (a free port when
    0), its metrics added to the service's `/metrics`."""
    global _runtime
    if _runtime is None:
        port = port or _free_port()
        _runtime = Runtime(telemetry=TelemetryConfig(
            # The SDK core's own lines go to the `temporalio.core` logger, so they render
            # like every other line of the process (relance.observability).
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
            ),
            metrics=PrometheusConfig(
                bind_address=f"{host}:{port}",
                counters_total_suffix=True,
                unit_suffix=True,
                durations_as_seconds=True,
            ),
        ))
        add_metrics_source(f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/metrics")
    return _runtime


async def connect(settings: CommonSettings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        interceptors=[TracingInterceptor()],
        runtime=metrics_runtime(settings.temporal_metrics_port),
    )
