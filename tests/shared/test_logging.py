"""One structlog configuration: JSON lines that keep a logged exception's traceback, the
standard library's loggers (uvicorn, temporalio, aiokafka, faststream) rendered the same
way, and the trace id, request id, event id and workflow id on each line where known."""

import json
import logging

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider

from relance.observability import configure_logging


@pytest.fixture(autouse=True)
def _restore_logging():
    """Each test configures logging for a process; the session's own is put back after."""
    from relance.observability import FOREIGN_LOGGERS

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    foreign = {name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate,
                      logging.getLogger(name).level) for name in FOREIGN_LOGGERS}
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, (handlers, propagate, level) in foreign.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.propagate = propagate
        logger.setLevel(level)
    structlog.reset_defaults()


@pytest.fixture
def json_lines(capsys):
    from relance.observability import FOREIGN_LOGGERS

    # Another test of the session may have quietened one (the CLI quietens aiokafka).
    for name in FOREIGN_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    configure_logging("notifier", "INFO", json_output=True)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service="notifier")

    def lines() -> list[dict]:
        err = capsys.readouterr().err
        return [json.loads(line) for line in err.splitlines() if line.strip()]

    yield lines
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def test_a_logged_exception_carries_its_traceback_in_json(json_lines) -> None:
    log = structlog.get_logger("relance.test")
    try:
        raise ValueError("template missing")
    except ValueError:
        log.exception("notifier.failed", event_id="e-1")
    (line,) = json_lines()
    assert line["event"] == "notifier.failed"
    assert line["level"] == "error"
    assert line["service"] == "notifier"
    assert "exc_info" not in line
    assert "Traceback (most recent call last)" in line["exception"]
    assert "ValueError: template missing" in line["exception"]


@pytest.mark.parametrize("name", ["uvicorn.error", "temporalio.worker", "aiokafka.consumer", "faststream"])
def test_the_standard_librarys_loggers_go_through_the_same_json(json_lines, name) -> None:
    structlog.contextvars.bind_contextvars(request_id="req-7")
    try:
        _ = 1 / 0
    except ZeroDivisionError:
        logging.getLogger(name).error("something %s", "broke", exc_info=True)
    (line,) = json_lines()
    assert line["event"] == "something broke"
    assert line["logger"] == name
    assert line["level"] == "error"
    assert line["service"] == "notifier"
    assert line["request_id"] == "req-7"
    assert "ZeroDivisionError" in line["exception"]


def test_a_line_carries_the_trace_request_and_event_ids(json_lines) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("api") as span, structlog.contextvars.bound_contextvars(
        request_id="req-1", event_id="ev-1"
    ):
        structlog.get_logger("relance.test").info("handled")
        logging.getLogger("aiokafka").warning("rebalanced")
    ours, theirs = json_lines()
    trace_id = format(span.get_span_context().trace_id, "032x")
    for line in (ours, theirs):
        assert line["trace_id"] == trace_id
        assert line["request_id"] == "req-1"
        assert line["event_id"] == "ev-1"


async def test_an_activity_line_carries_its_workflow_id(json_lines) -> None:
    from temporalio import activity
    from temporalio.testing import ActivityEnvironment

    @activity.defn
    async def send_reminder() -> None:
        structlog.get_logger("relance.test").info("activity.ran")

    env = ActivityEnvironment()
    env.info = env.info.__class__(**{**env.info.__dict__, "workflow_id": "dossier-42"})
    await env.run(send_reminder)
    (line,) = [entry for entry in json_lines() if entry["event"] == "activity.ran"]
    assert line["workflow_id"] == "dossier-42"
    assert "activity" in line


def test_levels_below_the_configured_one_are_dropped(capsys) -> None:
    configure_logging("relay", "WARNING", json_output=True)
    structlog.get_logger("relance.test").info("quiet")
    logging.getLogger("uvicorn.error").info("quiet too")
    structlog.get_logger("relance.test").warning("loud")
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert [line["event"] for line in lines] == ["loud"]
    structlog.reset_defaults()


def test_console_output_keeps_the_traceback_too(capsys) -> None:
    configure_logging("relay", "INFO", json_output=False)
    try:
        raise KeyError("k")
    except KeyError:
        logging.getLogger("temporalio").exception("boom")
    err = capsys.readouterr().err
    assert "boom" in err and "KeyError" in err and "Traceback" in err
    structlog.reset_defaults()



def test_uvicorn_under_the_service_runtime_keeps_the_one_configuration(json_lines) -> None:
    """The service runtime builds uvicorn's server without uvicorn's own logging setup, so
    its error and access lines stay JSON through our handler."""
    from fastapi import FastAPI

    from relance.runtime import server_config

    server_config(FastAPI(), 0)  # uvicorn configures its loggers when its Config is made
    logging.getLogger("uvicorn.error").warning("port in use")
    logging.getLogger("uvicorn.access").warning("GET /x 500")
    lines = json_lines()
    assert [(line["logger"], line["event"]) for line in lines] == [
        ("uvicorn.error", "port in use"), ("uvicorn.access", "GET /x 500")]


async def test_a_consumer_line_carries_the_event_id_and_the_trace_of_the_message(json_lines) -> None:
    """The relay sends the event's id and type and the trace context as headers; our
    brokers' middlewares bind the first two and continue the trace while it is handled."""
    from faststream.kafka import TestKafkaBroker

    from relance.kafka import service_broker

    broker = service_broker("127.0.0.1:9092", "notifier")

    @broker.subscriber("communication.commands", group_id="test")
    async def handle(body: dict) -> None:
        structlog.get_logger("relance.test").info("handled")

    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish({"x": 1}, "communication.commands", headers={
            "event_id": "5d1b2c3a-0000-4000-8000-000000000001", "event_type": "communication.requested",
            "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    (line,) = [entry for entry in json_lines() if entry["event"] == "handled"]
    assert line["event_id"] == "5d1b2c3a-0000-4000-8000-000000000001"
    assert line["event_type"] == "communication.requested"
    assert line["trace_id"] == trace_id
