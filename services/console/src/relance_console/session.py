"""The session cookie (F-35): the signed-in user's API token and CSRF token, encrypted and
authenticated with Fernet (AES + HMAC) under SESSION_SECRET, HttpOnly, SameSite=Lax and
Secure behind TLS. An anonymous visitor has a session too, holding only a CSRF token, so
the sign-in form is protected like the others."""

import base64
import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass, field

from cryptography.fernet import Fernet, InvalidToken

COOKIE = "relance_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    token: str | None = None
    user_id: str | None = None
    name: str | None = None
    role: str | None = None
    collector_code: str | None = None
    expires_at: float | None = None
    flash: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.token is not None

    @property
    def can_write(self) -> bool:
        return self.role in ("admin", "manager", "collector")

    @property
    def is_manager(self) -> bool:
        return self.role in ("admin", "manager")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class SessionCodec:
    def __init__(self, secret: str, max_age_seconds: float) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())
        self._fernet = Fernet(key)
        self.max_age = int(max_age_seconds)

    def dumps(self, session: Session) -> str:
        return self._fernet.encrypt(json.dumps(asdict(session)).encode()).decode()

    def loads(self, cookie: str | None) -> Session | None:
        """None when absent, tampered with or older than the session lifetime."""
        if not cookie:
            return None
        try:
            data = json.loads(self._fernet.decrypt(cookie.encode(), ttl=self.max_age))
            return Session(**data)
        except (InvalidToken, ValueError, TypeError):
            return None


def expired(session: Session) -> bool:
    return session.expires_at is not None and session.expires_at <= time.time()
