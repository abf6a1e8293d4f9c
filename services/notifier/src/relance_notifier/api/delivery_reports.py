"""POST /sms/delivery-reports: the SMS provider's callback with the final delivery state
of a message (F-32). Authenticated by a bearer token (SMS_CALLBACK_TOKEN); the answer
is 200 once the report is recorded or known, so the provider stops retrying it.

Errors use the platform's shape: `{"errors": [{"field", "reason"}]}`."""

import hmac
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from relance_notifier.domain.delivery import UnknownDeliveryState
from relance_notifier.service import REPORT_UNKNOWN, Notifier
from relance_notifier.settings import Settings


class DeliveryReport(BaseModel):
    reference: UUID = Field(description="the communication id sent with the message")
    status: str = Field(min_length=1, max_length=50, description="the provider's state")
    id: str | None = Field(default=None, max_length=200, description="provider message id")
    error: str | None = Field(default=None, max_length=500)


class DeliveryReportOutcome(BaseModel):
    communication_id: UUID
    outcome: str  # recorded | unchanged | ignored


class ReportError(Exception):
    def __init__(self, status: int, field: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.field, self.reason = status, field, reason


def _errors(status: int, errors: list[dict[str, str]]) -> JSONResponse:
    return JSONResponse(status_code=status, content={"errors": errors})


def _authorize(settings: Settings, authorization: str | None) -> None:
    expected = settings.sms_callback_token
    if not expected:
        raise ReportError(503, "Authorization", "delivery reports are not configured")
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise ReportError(401, "Authorization", "a valid bearer token is required")


def install_delivery_reports(app: FastAPI, notifier: Notifier, settings: Settings) -> None:
    router = APIRouter(tags=["sms"])

    @router.post(
        "/sms/delivery-reports",
        response_model=DeliveryReportOutcome,
        summary="The SMS provider's delivery report for one message (F-32)",
    )
    async def delivery_report(
        report: DeliveryReport,
        authorization: Annotated[str | None, Header()] = None,
    ) -> DeliveryReportOutcome:
        _authorize(settings, authorization)
        try:
            outcome = await notifier.record_delivery_report(
                report.reference, report.status, provider_ref=report.id, reason=report.error
            )
        except UnknownDeliveryState:
            raise ReportError(422, "status", f"unknown delivery state {report.status!r}") from None
        if outcome == REPORT_UNKNOWN:
            raise ReportError(404, "reference", f"no communication {report.reference}")
        return DeliveryReportOutcome(communication_id=report.reference, outcome=outcome)

    @app.exception_handler(ReportError)
    async def report_error(request: Request, exc: ReportError) -> JSONResponse:
        return _errors(exc.status, [{"field": exc.field, "reason": exc.reason}])

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _errors(422, [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "reason": e["msg"]}
            for e in exc.errors()
        ])

    app.include_router(router)
