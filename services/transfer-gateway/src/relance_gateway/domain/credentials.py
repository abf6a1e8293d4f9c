"""Agency credentials: an API key naming the agency and HMAC secrets signing requests
and webhooks. A secret is `whsec_` + base64 of 32 random bytes, the Standard Webhooks
format, so an agency's `standardwebhooks` library reads it as it is (F-31).

Only the API key's SHA-256 is stored. At most two secrets are active at once: rotating
adds a new one and keeps only the newest previous one, so the agency can switch over
without a window where its requests are refused."""

import base64
import hashlib
import secrets
from typing import TypeVar

ACTIVE_SECRETS = 2
T = TypeVar("T")


def new_api_key() -> str:
    return f"ak_{secrets.token_urlsafe(32)}"


def new_signing_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def api_key_sha256(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def secrets_to_revoke(active_ids_newest_first: list[T], keep: int = ACTIVE_SECRETS) -> list[T]:
    """The secrets to revoke so that only `keep` stay active (the newest ones)."""
    return active_ids_newest_first[keep:]
