"""Request signatures between Relance and an agency, both ways (F-31).

The Stripe / Standard Webhooks scheme: the sender puts the unix time in
`X-Relance-Timestamp` and `v1=<hex HMAC-SHA256(secret, "{timestamp}.{raw body}")>` in
`X-Relance-Signature`. During a secret rotation two secrets are active: the signature
header may carry one `v1=` entry per secret (space separated) and any active secret
verifies. A timestamp more than the tolerance away from now is refused, so a captured
request cannot be replayed later. Pure functions: no I/O, the clock is a parameter."""

import hashlib
import hmac
from collections.abc import Iterable

AGENCY_KEY_HEADER = "X-Agency-Key"
TIMESTAMP_HEADER = "X-Relance-Timestamp"
SIGNATURE_HEADER = "X-Relance-Signature"
EVENT_ID_HEADER = "X-Relance-Event-Id"
EVENT_TYPE_HEADER = "X-Relance-Event-Type"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"

SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """Why a request's signature is not accepted: said to the caller in the 401."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def signed_content(timestamp: int | str, body: bytes) -> bytes:
    return f"{timestamp}.".encode() + body


def compute_signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """The hex HMAC-SHA256 of `{timestamp}.{body}` with `secret`."""
    return hmac.new(secret.encode(), signed_content(timestamp, body), hashlib.sha256).hexdigest()


def signature_header(secrets: Iterable[str], timestamp: int | str, body: bytes) -> str:
    """`v1=<hex>` for each secret, space separated (one entry with one secret)."""
    return " ".join(f"{SCHEME}={compute_signature(s, timestamp, body)}" for s in secrets)


def parse_signatures(header: str) -> list[str]:
    """The `v1` hex digests of a signature header (`v1=a v1=b` or `v1=a,v1=b`)."""
    digests = []
    for part in header.replace(",", " ").split():
        scheme, sep, value = part.partition("=")
        if sep and scheme == SCHEME and value:
            digests.append(value.strip().lower())
    return digests


def verify_signature(
    *,
    secrets: Iterable[str],
    timestamp_header: str | None,
    signature_header_value: str | None,
    body: bytes,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Raise SignatureError unless one of `secrets` signed `body` at a fresh timestamp."""
    if not timestamp_header:
        raise SignatureError(TIMESTAMP_HEADER, "the unix timestamp header is required")
    try:
        timestamp = int(timestamp_header.strip())
    except ValueError:
        raise SignatureError(TIMESTAMP_HEADER, "must be an integer count of unix seconds") from None
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureError(
            TIMESTAMP_HEADER,
            f"timestamp is more than {tolerance_seconds} s away from the server clock",
        )
    if not signature_header_value:
        raise SignatureError(SIGNATURE_HEADER, "the signature header is required")
    offered = parse_signatures(signature_header_value)
    if not offered:
        raise SignatureError(SIGNATURE_HEADER, f"expected '{SCHEME}=<hex HMAC-SHA256>'")
    expected = [compute_signature(s, timestamp_header.strip(), body) for s in secrets]
    # Compare every pair in constant time; no early exit reveals which one matched.
    matched = False
    for candidate in expected:
        for digest in offered:
            matched |= hmac.compare_digest(candidate, digest)
    if not matched:
        raise SignatureError(
            SIGNATURE_HEADER, "signature does not match the body with any active secret"
        )
