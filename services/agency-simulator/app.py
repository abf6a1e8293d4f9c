"""The agency simulator: receives the gateway's webhooks and answers them by a policy.

It stands for a remote party (an external agency), so tests and demos talk to a real
HTTP server rather than a mock. The foundation records what it receives; the transfers
work teaches it to acknowledge placements and to validate or refuse cancellations."""

from typing import Any, Literal

from fastapi import FastAPI, Request
from pydantic import BaseModel
from prometheus_client import Counter

from relance.observability import add_health_and_metrics
from relance.settings import CommonSettings

WEBHOOKS_RECEIVED = Counter("relance_agency_simulator_webhooks_total", "Webhooks received")


class Settings(CommonSettings):
    service_name: str = "agency-simulator"
    http_port: int = 8400
    agency_code: str = "RECOUVEO"
    policy: Literal["accept", "refuse", "delay", "never", "flaky"] = "accept"


class Received(BaseModel):
    headers: dict[str, str]
    body: Any


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="Relance agency simulator", version="0.1.0")
    app.state.received: list[Received] = []

    @app.post("/webhooks", summary="The agency's webhook endpoint")
    async def webhook(request: Request) -> dict[str, str]:
        WEBHOOKS_RECEIVED.inc()
        app.state.received.append(
            Received(headers=dict(request.headers), body=await request.json())
        )
        return {"status": "received"}

    @app.get("/received", response_model=list[Received], summary="What the agency received")
    async def received() -> list[Received]:
        return app.state.received

    @app.get("/policy")
    async def policy() -> dict[str, str]:
        return {"agency_code": settings.agency_code, "policy": settings.policy}

    add_health_and_metrics(app, {})
    return app
