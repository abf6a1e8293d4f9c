"""One trace end to end: an API call that sends an email is followed, in ONE trace, through
the dossier API, the outbox relay, the Kafka consumers, the Temporal workflow and its
activity, and the notifier's SMTP send.

The platform's processes export their spans over OTLP/HTTP (`OTEL_EXPORTER_OTLP_ENDPOINT`) to
a real local receiver that decodes the protobuf `ExportTraceServiceRequest`. The test runs
its own stack and platform, so no process without tracing competes for the messages."""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from uuid import uuid4

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from relance.kafka import ensure_topics
from relance_devstack.migrate import upgrade_all
from relance_devstack.supervisor import Supervisor
from tests.conftest import ADMIN_TOKEN, SmtpInbox
from tests.stack import start_test_stack

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict


class OtlpReceiver:
    """A local OTLP/HTTP trace receiver (POST /v1/traces, protobuf)."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.add(request)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, request: ExportTraceServiceRequest) -> None:
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(ReceivedSpan(
                        service=resource.get("service.name", ""), name=span.name, kind=span.kind,
                        trace_id=span.trace_id.hex(), span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                    ))
        with self.lock:
            self.spans.extend(received)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self.lock:
            return [s for s in self.spans if s.trace_id == trace_id]

    def find(self, service: str, name: str) -> list[ReceivedSpan]:
        with self.lock:
            return [s for s in self.spans if s.service == service and s.name == name]


def _value(value) -> object:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


@pytest.fixture(scope="module")
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


@pytest.fixture(scope="module")
def traced_platform(tmp_path_factory, otlp_receiver, smtp_inbox: SmtpInbox, sms_provider) -> Iterator[Supervisor]:
    """A stack and platform of this module's own, every process exporting its spans."""
    data_dir = tmp_path_factory.mktemp("relance-traced")
    stack = start_test_stack(data_dir)
    try:
        upgrade_all(stack.database_url)
        asyncio.run(ensure_topics(stack.kafka_bootstrap_servers))
        supervisor = Supervisor.with_free_ports(
            {**stack.env(), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_inbox.port),
             "BOOTSTRAP_ADMIN_TOKEN": ADMIN_TOKEN,
             "SMS_PROVIDER_URL": sms_provider.url, "SMS_PROVIDER_TOKEN": "sms_test_token",
             "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.url},
            stack.logs_dir,
        )
        supervisor.start_all(timeout=120)
        try:
            yield supervisor
        finally:
            supervisor.stop_all()
    finally:
        stack.stop()


async def test_one_api_call_that_sends_an_email_is_one_trace(traced_platform, otlp_receiver, smtp_inbox) -> None:
    code = f"TRACE-{uuid4().hex[:8]}"
    email = f"compta+{code.lower()}@client.example"
    async with httpx.AsyncClient(
        base_url=traced_platform.running["dossier"].url, timeout=30,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ) as api:
        response = await api.post("/clients", json={
            "code": code, "name": "Traced Client SA",
            "contacts": [{"name": "Comptabilité", "channels": [
                {"type": "email", "value": email, "state": "validated", "is_default": True}]}],
            "items": [{"number": "F-1", "due_date": str(date.today() - timedelta(days=40)),
                       "amount": "120.00"}],
        })
    assert response.status_code == 201, response.text
    await smtp_inbox.wait_for(email, timeout=90)

    # Each process exports its spans in batches of its own: wait for the API's.
    deadline = asyncio.get_running_loop().time() + 30
    while not otlp_receiver.find("relance-dossier", "POST /clients"):
        assert asyncio.get_running_loop().time() < deadline, "the API's span never arrived"
        await asyncio.sleep(0.2)
    (api_span,) = otlp_receiver.find("relance-dossier", "POST /clients")
    trace_id = api_span.trace_id

    def covered() -> list[ReceivedSpan] | None:
        """The trace once the send is in it and every span's parent has arrived (each
        process exports in its own batches)."""
        spans = otlp_receiver.trace(trace_id)
        ids = {s.span_id for s in spans}
        complete = all(not s.parent_span_id or s.parent_span_id in ids for s in spans)
        return spans if complete and any(s.name == "smtp send" for s in spans) else None

    deadline = asyncio.get_running_loop().time() + 60
    while (spans := covered()) is None:
        assert asyncio.get_running_loop().time() < deadline, sorted(
            {(s.service, s.name) for s in otlp_receiver.trace(trace_id)})
        await asyncio.sleep(0.5)

    by_service: dict[str, set[str]] = {}
    for span in spans:
        by_service.setdefault(span.service, set()).add(span.name)
    assert "POST /clients" in by_service["relance-dossier"]
    assert any(name.endswith(" publish") for name in by_service["relance-relay"])  # the relay
    assert any(name.endswith(" process") for name in by_service["relance-workflow"])  # the bridge
    assert "RunWorkflow:DossierWorkflow" in by_service["relance-workflow"]  # the workflow
    assert any(name.startswith("RunActivity:") for name in by_service["relance-dossier"])
    assert any(name.endswith(" process") for name in by_service["relance-notifier"])  # its consumer
    (send,) = [s for s in spans if s.name == "smtp send"]
    assert send.service == "relance-notifier"
    # One tree: every span but the API's own has its parent in the same trace.
    ids = {s.span_id for s in spans}
    orphans = [(s.service, s.name) for s in spans if s.parent_span_id and s.parent_span_id not in ids]
    assert not orphans, orphans


async def test_the_real_processes_serve_http_and_temporal_metrics(traced_platform) -> None:
    """The dossier API counts its requests by route template; the workflow and dossier
    workers' /metrics carry the Temporal SDK's metrics (their one scrape target)."""
    running = traced_platform.running
    async with httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http:
        await http.get(f"{running['dossier'].url}/clients/NO-SUCH-CLIENT")
        dossier = (await http.get(f"{running['dossier'].url}/metrics")).text
        workflow = (await http.get(f"{running['workflow'].url}/metrics")).text
    assert 'http_requests_total{method="GET",route="/clients/{code}",service="dossier",status="404"}' in dossier
    assert "NO-SUCH-CLIENT" not in dossier
    assert "temporal_workflow_completed_total" in workflow or "temporal_workflow_task_queue_poll" in workflow
    assert "temporal_worker_task_slots_available" in workflow
    assert "temporal_activity_execution_latency_seconds" in dossier  # its worker ran the activities
