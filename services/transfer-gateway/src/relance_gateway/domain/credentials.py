"""Agency credentials: an API key naming the agency and HMAC secrets signing requests.

Only the API key's SHA-256 is stored. At most two secrets are active at once: rotating
adds a new one and keeps only the newest previous one, so the agency can switch over
without a window where its requests are refused."""

import hashlib
import secrets

ACTIVE_SECRETS = 2


def new_api_key() -> str:
    return f"ak_{secrets.token_urlsafe(32)}"


def new_signing_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def api_key_sha256(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def secrets_to_revoke(active_ids_newest_first: list, keep: int = ACTIVE_SECRETS) -> list:
    """The secrets to revoke so that only `keep` stay active (the newest ones)."""
    return active_ids_newest_first[keep:]
