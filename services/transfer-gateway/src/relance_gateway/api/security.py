"""Who an agency request comes from, and whether it was signed by that agency (F-31)."""

import time

from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from relance.api.errors import ApiError
from relance_gateway.domain.signatures import (
    AGENCY_KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    verify_signature,
)
from relance_gateway.metrics import INBOUND_REQUESTS
from relance_gateway.persistence.agencies import AgencyCaller, caller_by_api_key


# Declared as security schemes so the OpenAPI document lists the three headers on every
# agency endpoint; the checks themselves are in `authenticated_agency`.
agency_key_header = APIKeyHeader(
    name=AGENCY_KEY_HEADER, scheme_name="AgencyKey", auto_error=False,
    description="Your API key, issued when your agency is registered.")
timestamp_header = APIKeyHeader(
    name=TIMESTAMP_HEADER, scheme_name="Timestamp", auto_error=False,
    description="Unix time in seconds; refused when more than 300 s from Relance's clock.")
signature_header = APIKeyHeader(
    name=SIGNATURE_HEADER, scheme_name="Signature", auto_error=False,
    description='"v1=" + hex HMAC-SHA256 of "{timestamp}.{raw body}" keyed by your signing secret.')


def endpoint_name(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "name", None) or "unknown"


async def authenticated_agency(
    request: Request,
    api_key: str | None = Security(agency_key_header),
    timestamp: str | None = Security(timestamp_header),
    signature: str | None = Security(signature_header),
) -> AgencyCaller:
    """The calling agency: its API key names it, one of its active secrets signed the
    timestamp and the raw body. Anything else is a 401 saying which header is wrong."""

    def refuse(field: str, reason: str) -> ApiError:
        INBOUND_REQUESTS.labels(endpoint_name(request), "unauthorized").inc()
        return ApiError(401, field, reason)

    if not api_key:
        raise refuse(AGENCY_KEY_HEADER, "the agency API key is required")
    async with request.app.state.pool.acquire() as conn:
        caller = await caller_by_api_key(conn, api_key.strip(), request.app.state.secret_box)
    if caller is None:
        raise refuse(AGENCY_KEY_HEADER, "unknown API key")
    if not caller.active:
        raise refuse(AGENCY_KEY_HEADER, "this agency is deactivated")
    body = await request.body()  # cached by Starlette: the JSON body is parsed from it too
    try:
        verify_signature(
            secrets=caller.secrets,
            timestamp_header=timestamp,
            signature_header_value=signature,
            body=body,
            now=time.time(),
            tolerance_seconds=request.app.state.settings.signature_tolerance_seconds,
        )
    except SignatureError as exc:
        raise refuse(exc.field, exc.reason) from None
    return caller
