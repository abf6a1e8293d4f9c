"""Idempotency-Key rules for every POST an agency sends (F-31).

A key is remembered per agency with the hash of the request it came with and the first
answer. The same key with the same request replays that answer verbatim; the same key
with another request is refused with 422 (the agency reused a key by mistake). Only
successful answers are remembered: a refused request changed nothing and may be sent
again with the same key once corrected."""

import hashlib
from dataclasses import dataclass
from enum import StrEnum


class Decision(StrEnum):
    EXECUTE = "execute"
    REPLAY = "replay"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class StoredAnswer:
    request_hash: str
    status_code: int
    body: str  # the answer's exact JSON text


def request_hash(method: str, path: str, body: bytes) -> str:
    """The request's fingerprint: method, path and the exact body bytes."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), b"\n", path.encode(), b"\n", body):
        digest.update(part)
    return digest.hexdigest()


def decide(stored: StoredAnswer | None, incoming_hash: str) -> Decision:
    if stored is None:
        return Decision.EXECUTE
    if stored.request_hash == incoming_hash:
        return Decision.REPLAY
    return Decision.CONFLICT


def is_remembered(status_code: int) -> bool:
    return 200 <= status_code < 300


MAX_KEY_LENGTH = 255


def key_problem(key: str | None) -> str | None:
    """Why an Idempotency-Key header is unusable, or None."""
    if key is None or not key.strip():
        return "an Idempotency-Key header is required on every POST"
    if len(key) > MAX_KEY_LENGTH:
        return f"at most {MAX_KEY_LENGTH} characters"
    return None
