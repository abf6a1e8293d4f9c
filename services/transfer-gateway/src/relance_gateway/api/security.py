"""Who an agency request comes from, and whether it was signed by that agency (F-31)."""

import time

from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from relance.api.errors import ApiError
from relance_gateway.domain.signatures import (
    AGENCY_KEY_HEADER,
    IDEMPOTENCY_KEY_HEADER,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    verify_request,
)
from relance_gateway.metrics import INBOUND_REQUESTS
from relance_gateway.persistence import replay_cache
from relance_gateway.persistence.agencies import AgencyCaller, caller_by_api_key

# Declared as security schemes so the OpenAPI document lists the four headers on every
# agency endpoint; the checks themselves are in `authenticated_agency`.
agency_key_header = APIKeyHeader(
    name=AGENCY_KEY_HEADER, scheme_name="AgencyKey", auto_error=False,
    description="Your API key, issued when your agency is registered.")
timestamp_header = APIKeyHeader(
    name=TIMESTAMP_HEADER, scheme_name="Timestamp", auto_error=False,
    description="Unix time in seconds; refused when more than 300 s from Relance's clock.")
nonce_header = APIKeyHeader(
    name=NONCE_HEADER, scheme_name="Nonce", auto_error=False,
    description="A new value for every request (e.g. a UUID; 8 to 128 letters, digits, . _ : -).")
signature_header = APIKeyHeader(
    name=SIGNATURE_HEADER, scheme_name="Signature", auto_error=False,
    description='"v2=" + hex HMAC-SHA256 of "{timestamp}\\n{nonce}\\n{METHOD}\\n{path}\\n'
    '{Idempotency-Key}\\n{raw body}", keyed by the base64-decoded part of your whsec_ secret.')


def endpoint_name(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "name", None) or "unknown"


def request_target(request: Request) -> str:
    """The path as the agency sent it in the request line, with its query string."""
    path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string") or b""
    return (path + (b"?" + query if query else b"")).decode("latin-1")


async def authenticated_agency(
    request: Request,
    api_key: str | None = Security(agency_key_header),
    timestamp: str | None = Security(timestamp_header),
    nonce: str | None = Security(nonce_header),
    signature: str | None = Security(signature_header),
) -> AgencyCaller:
    """The calling agency: its API key names it, one of its active secrets signed this
    very request (method, path, Idempotency-Key, body) at a fresh timestamp, and the
    signature was not seen before. Anything else is a 401 saying which header is wrong."""

    def refuse(field: str, reason: str) -> ApiError:
        INBOUND_REQUESTS.labels(endpoint_name(request), "unauthorized").inc()
        return ApiError(401, field, reason)

    if not api_key:
        raise refuse(AGENCY_KEY_HEADER, "the agency API key is required")
    tolerance = request.app.state.settings.signature_tolerance_seconds
    async with request.app.state.pool.acquire() as conn:
        caller = await caller_by_api_key(conn, api_key.strip(), request.app.state.secret_box)
        if caller is None:
            raise refuse(AGENCY_KEY_HEADER, "unknown API key")
        if not caller.active:
            raise refuse(AGENCY_KEY_HEADER, "this agency is deactivated")
        body = await request.body()  # cached by Starlette: the JSON body is parsed from it too
        try:
            verified = verify_request(
                secrets=caller.secrets,
                timestamp_header=timestamp,
                nonce_header=nonce,
                signature_header_value=signature,
                method=request.method,
                path=request_target(request),
                idempotency_key=request.headers.get(IDEMPOTENCY_KEY_HEADER),
                body=body,
                now=time.time(),
                tolerance_seconds=tolerance,
            )
        except SignatureError as exc:
            raise refuse(exc.field, exc.reason) from None
        if not await replay_cache.remember(conn, caller.code, verified.fingerprint,
                                           timestamp=verified.timestamp, tolerance_seconds=tolerance):
            raise refuse(SIGNATURE_HEADER,
                         f"this signed request was already received in the last {tolerance} s;"
                         " sign every request afresh, with a new nonce")
    return caller


# Read by relance.api.openapi: every agency route declares its 401.
authenticated_agency.__relance_openapi_auth__ = "agency"  # type: ignore[attr-defined]
