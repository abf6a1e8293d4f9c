"""Signatures between Relance and an agency, both ways (F-31). Pure functions: no I/O,
the clock is a parameter.

**Keys.** A signing secret is `whsec_` + base64 of random bytes, as the Standard
Webhooks specification has it; the HMAC-SHA256 key is the decoded bytes, in both
directions. During a rotation two secrets are active and either one verifies.

**Agency → Relance (requests).** The agency signs, with `v2=<hex HMAC-SHA256>` in
`X-Relance-Signature`, the lines

    {timestamp}\\n{nonce}\\n{METHOD}\\n{path?query}\\n{Idempotency-Key}\\n{raw body}

so a signature made for one transfer, one method, one operation or one body verifies
for no other. The timestamp (`X-Relance-Timestamp`) must be within the tolerance of our
clock, and the nonce (`X-Relance-Nonce`, new for every request) makes every signature
unique: the gateway keeps the fingerprint of each signed request for the tolerance window
and refuses one it has seen (a captured request cannot be sent again). No field can hold
a newline (headers and request targets cannot), so the lines cannot be shifted.

**Relance → agency (webhooks).** The Standard Webhooks scheme: `webhook-id` (the
message id, the same on every retry), `webhook-timestamp` (unix seconds) and
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one entry per
active secret, space separated; an agency verifies them with the `standardwebhooks`
library of its language."""

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SECRET_PREFIX = "whsec_"
AGENCY_KEY_HEADER = "X-Agency-Key"
TIMESTAMP_HEADER = "X-Relance-Timestamp"
NONCE_HEADER = "X-Relance-Nonce"
SIGNATURE_HEADER = "X-Relance-Signature"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"

WEBHOOK_ID_HEADER = "webhook-id"
WEBHOOK_TIMESTAMP_HEADER = "webhook-timestamp"
WEBHOOK_SIGNATURE_HEADER = "webhook-signature"

REQUEST_SCHEME = "v2"
RETIRED_REQUEST_SCHEME = "v1"  # timestamp and body only: replayable on another transfer
WEBHOOK_SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
NONCE_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


class SignatureError(Exception):
    """Why a request's signature is not accepted: said to the caller in the 401."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class UnusableSecret(ValueError):
    """A stored secret that is not `whsec_` + base64 (issued before the Standard Webhooks
    format): it must be rotated."""


def signing_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret, decoded exactly as the
    `standardwebhooks` library decodes it (padding optional), so both sides agree."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "==") if encoded else b""
    except (binascii.Error, ValueError):
        raise UnusableSecret("the signing secret is not whsec_ followed by base64") from None
    if not key:
        raise UnusableSecret("the signing secret is empty")
    return key


def usable_keys(secrets: Iterable[str]) -> list[bytes]:
    keys = []
    for secret in secrets:
        try:
            keys.append(signing_key(secret))
        except UnusableSecret:
            continue
    return keys


# ---- agency requests ---------------------------------------------------------------------


def request_signed_content(
    *, timestamp: int | str, nonce: str, method: str, path: str, idempotency_key: str | None,
    body: bytes,
) -> bytes:
    head = "\n".join([str(timestamp), nonce, method.upper(), path, idempotency_key or ""])
    return head.encode() + b"\n" + body


def sign_request(secret: str, **parts: Any) -> str:
    """The hex HMAC-SHA256 of the request's signed content (see the module docstring)."""
    return hmac.new(signing_key(secret), request_signed_content(**parts), hashlib.sha256).hexdigest()


def request_signature_header(secrets: Iterable[str], **parts: Any) -> str:
    """`v2=<hex>` for each secret, space separated."""
    return " ".join(f"{REQUEST_SCHEME}={sign_request(s, **parts)}" for s in secrets)


def parse_signatures(header: str, scheme: str = REQUEST_SCHEME) -> list[str]:
    """The hex digests of one scheme in a signature header (`v2=a v2=b` or `v2=a,v2=b`)."""
    digests = []
    for part in header.replace(",", " ").split():
        name, sep, value = part.partition("=")
        if sep and name == scheme and value:
            digests.append(value.strip().lower())
    return digests


@dataclass(frozen=True)
class VerifiedRequest:
    timestamp: int
    fingerprint: str  # SHA-256 of the signed content: what the replay cache remembers


def verify_request(
    *,
    secrets: Iterable[str],
    timestamp_header: str | None,
    nonce_header: str | None,
    signature_header_value: str | None,
    method: str,
    path: str,
    idempotency_key: str | None,
    body: bytes,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> VerifiedRequest:
    """Raise SignatureError unless one of `secrets` signed this very request (method,
    path, Idempotency-Key, body) with a fresh timestamp and a nonce."""
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
    if not nonce_header:
        raise SignatureError(NONCE_HEADER, "a nonce, new for every request (e.g. a UUID), is required")
    nonce = nonce_header.strip()
    if not NONCE_PATTERN.match(nonce):
        raise SignatureError(NONCE_HEADER, "8 to 128 characters among letters, digits and . _ : -")
    if not signature_header_value:
        raise SignatureError(SIGNATURE_HEADER, "the signature header is required")
    offered = parse_signatures(signature_header_value)
    if not offered:
        if parse_signatures(signature_header_value, RETIRED_REQUEST_SCHEME):
            raise SignatureError(
                SIGNATURE_HEADER,
                "the v1 signature (timestamp and body only) is no longer accepted: sign with v2,"
                " over the timestamp, nonce, method, path, Idempotency-Key and body",
            )
        raise SignatureError(SIGNATURE_HEADER, f"expected '{REQUEST_SCHEME}=<hex HMAC-SHA256>'")
    content = request_signed_content(timestamp=timestamp_header.strip(), nonce=nonce, method=method,
                                     path=path, idempotency_key=idempotency_key, body=body)
    expected = [hmac.new(k, content, hashlib.sha256).hexdigest() for k in usable_keys(secrets)]
    # Compare every pair in constant time; no early exit reveals which one matched.
    matched = False
    for candidate in expected:
        for digest in offered:
            matched |= hmac.compare_digest(candidate, digest)
    if not matched:
        raise SignatureError(
            SIGNATURE_HEADER,
            "signature does not match the request (timestamp, nonce, method, path,"
            " Idempotency-Key and body) with any active secret",
        )
    return VerifiedRequest(timestamp, hashlib.sha256(content).hexdigest())


# ---- outgoing webhooks (Standard Webhooks) ------------------------------------------------


def webhook_signature(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "{msg_id}.{timestamp}.{body}">`."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), content, hashlib.sha256).digest()
    return f"{WEBHOOK_SCHEME},{base64.b64encode(digest).decode()}"


def webhook_headers(secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers, one signature per secret (a rotation sends two)."""
    return {
        WEBHOOK_ID_HEADER: msg_id,
        WEBHOOK_TIMESTAMP_HEADER: str(timestamp),
        WEBHOOK_SIGNATURE_HEADER: " ".join(webhook_signature(s, msg_id, timestamp, body) for s in secrets),
    }
