"""Running a service: one asyncio loop holding the HTTP server (API or /health + /metrics)
and the service's background tasks, stopped cleanly on SIGTERM or Ctrl-C."""

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI

log = structlog.get_logger(__name__)


def server_config(app: FastAPI, port: int, host: str = "127.0.0.1") -> uvicorn.Config:
    """log_config=None: uvicorn's loggers keep the process's one configuration
    (relance.observability.configure_logging) instead of its own handlers."""
    return uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", log_config=None)


async def serve(
    app: FastAPI,
    port: int,
    *,
    host: str = "127.0.0.1",
    background: list[Coroutine[Any, Any, Any]] | None = None,
    on_stop: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Serve `app` on `port` next to `background` tasks until a stop signal.

    If a background task fails, the service stops (and its supervisor sees the exit)
    rather than running half-alive."""
    server = uvicorn.Server(server_config(app, port, host))
    # The stop event below handles SIGTERM and SIGINT: uvicorn must not take them over
    # (it captures them in `capture_signals` since 0.29; `install_signal_handlers` is gone).
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    tasks = [asyncio.create_task(coro) for coro in (background or [])]
    server_task = asyncio.create_task(server.serve())
    stop_task = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([server_task, stop_task, *tasks], return_when=asyncio.FIRST_COMPLETED)
    failed = [t for t in done if t not in (stop_task,) and not t.cancelled() and t.exception()]
    for task in failed:
        log.error("service.task_failed", error=repr(task.exception()))

    server.should_exit = True
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    if on_stop is not None:
        await on_stop()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(server_task, 10)
    stop_task.cancel()
    if failed:
        raise SystemExit(1)
