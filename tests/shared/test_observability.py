"""`/health` is ready only when every dependency answers; `/metrics` serves Prometheus text;
every request carries a request id."""

import httpx
from fastapi import FastAPI

from relance.observability import add_health_and_metrics, install_request_logging, instrument_api, operations_app


async def _ok() -> None:
    return None


async def _broker_down() -> None:
    raise ConnectionError("broker unreachable")


async def _get(app: FastAPI, path: str, **kwargs) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.get(path, **kwargs)


async def test_health_is_ready_when_every_dependency_answers() -> None:
    response = await _get(operations_app("notifier", {"postgres": _ok, "kafka": _ok}), "/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"postgres": "ok", "kafka": "ok"}}


async def test_health_is_unavailable_and_names_the_dependency_that_fails() -> None:
    response = await _get(operations_app("notifier", {"postgres": _ok, "kafka": _broker_down}), "/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["postgres"] == "ok"
    assert "broker unreachable" in body["checks"]["kafka"]


async def test_metrics_are_served_in_prometheus_text_format() -> None:
    response = await _get(operations_app("relay", {}), "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "python_info" in response.text


async def test_a_request_keeps_the_callers_request_id_or_gets_a_new_one() -> None:
    app = FastAPI()
    install_request_logging(app)
    add_health_and_metrics(app, {})

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    given = await _get(app, "/ping", headers={"X-Request-ID": "req-42"})
    assert given.headers["X-Request-ID"] == "req-42"
    fresh = await _get(app, "/ping")
    assert len(fresh.headers["X-Request-ID"]) == 32


def _sample(text: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


async def test_metrics_count_and_time_each_request_by_its_route_template() -> None:
    app = FastAPI()
    add_health_and_metrics(app, {}, service="dossier")

    @app.get("/clients/{code}")
    async def client(code: str) -> dict[str, str]:
        if code == "missing":
            from fastapi import HTTPException

            raise HTTPException(404)
        return {"code": code}

    route = {"service": "dossier", "method": "GET", "route": "/clients/{code}"}
    before = _sample((await _get(app, "/metrics")).text, "http_requests_total", **route, status="200")
    await _get(app, "/clients/ACME")
    await _get(app, "/clients/OTHER")
    await _get(app, "/clients/missing")
    await _get(app, "/no/such/path")
    text = (await _get(app, "/metrics")).text
    assert _sample(text, "http_requests_total", **route, status="200") == before + 2
    assert _sample(text, "http_requests_total", **route, status="404") >= 1
    assert _sample(text, "http_request_duration_seconds_count", **route, status="200") >= 2
    assert _sample(text, "http_requests_total", service="dossier", route="unmatched", status="404") >= 1
    assert 'route="/clients/ACME"' not in text


async def test_an_api_request_is_a_span_that_continues_the_callers_trace() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = FastAPI()
    instrument_api(app, "dossier", tracer_provider=provider)
    install_request_logging(app)
    add_health_and_metrics(app, {}, service="dossier")

    @app.get("/clients/{code}")
    async def client(code: str) -> dict[str, str]:
        return {"trace_id": format(trace.get_current_span().get_span_context().trace_id, "032x")}

    caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = await _get(app, "/clients/ACME", headers={
        "traceparent": f"00-{caller_trace}-00f067aa0ba902b7-01", "X-Request-ID": "req-9"})
    assert response.json()["trace_id"] == caller_trace
    server = [s for s in exporter.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert [s.name for s in server] == ["GET /clients/{code}"]
    assert server[0].attributes["relance.request_id"] == "req-9"
    await _get(app, "/health")
    assert len([s for s in exporter.get_finished_spans() if s.kind == trace.SpanKind.SERVER]) == 1


def test_tracing_is_off_when_no_collector_is_set() -> None:
    from opentelemetry import trace

    from relance.observability import configure_tracing

    before = trace.get_tracer_provider()
    assert configure_tracing("relance-relay", "") is False
    assert trace.get_tracer_provider() is before  # no exporter, no SDK provider installed
