"""The workers' Temporal client: the SDK's metrics (`temporal_*`, Prometheus conventions) on
the service's own /metrics, and OpenTelemetry spans for the workflow and its activities
that continue the trace of whoever started it."""

import shutil
import sys
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import httpx
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from temporalio.client import Client
    from temporalio.contrib.opentelemetry import TracingInterceptor
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from relance.observability import operations_app
    from relance.temporal import metrics_runtime

EXPORTER = InMemorySpanExporter()


@activity.defn
async def say_hello(name: str) -> str:
    return f"hello {name}"


@workflow.defn
class HelloWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            say_hello, name, start_to_close_timeout=timedelta(seconds=10))


def _binary(name: str) -> str:
    return shutil.which(name) or str(Path(sys.executable).parent / name)


async def test_the_worker_exposes_temporal_metrics_and_traces_the_workflow() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    tracer = provider.get_tracer("test")
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=_binary("temporal-test-server"),
        runtime=metrics_runtime(),
    )
    try:
        client = Client(**{**env.client.config(), "interceptors": [TracingInterceptor(tracer)]})
        queue = f"telemetry-{uuid4().hex[:6]}"
        async with Worker(client, task_queue=queue, workflows=[HelloWorkflow], activities=[say_hello]):
            with tracer.start_as_current_span("api request") as root:
                result = await client.execute_workflow(
                    HelloWorkflow.run, "agency", id=f"hello-{uuid4()}", task_queue=queue)
        assert result == "hello agency"
    finally:
        await env.shutdown()

    app = operations_app("workflow", {})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        text = (await http.get("/metrics")).text
    assert "python_info" in text  # the service's own metrics, then the SDK's
    for name in ("temporal_workflow_completed_total", "temporal_activity_execution_latency_seconds_bucket",
                 "temporal_request_total", "temporal_worker_task_slots_available"):
        assert name in text, name

    spans = EXPORTER.get_finished_spans()
    names = {span.name for span in spans}
    assert {"StartWorkflow:HelloWorkflow", "RunWorkflow:HelloWorkflow",
            "RunActivity:say_hello"} <= names, names
    assert {span.context.trace_id for span in spans} == {root.get_span_context().trace_id}
