"""Signing secrets at rest: HMAC needs the secret itself (a hash would not do), so it is
stored encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`).

Several keys may be configured: the first encrypts, any of them decrypts, so the
encryption key itself can be rotated. A value without the prefix was stored before
encryption was configured and is read as it is."""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PREFIX = "fernet:"


class SecretUnreadable(Exception):
    pass


class SecretBox:
    def __init__(self, keys: list[str]) -> None:
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys]) if keys else None

    @staticmethod
    def new_key() -> str:
        return Fernet.generate_key().decode()

    def seal(self, secret: str) -> str:
        if self._fernet is None:
            return secret
        return PREFIX + self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored
        if self._fernet is None:
            raise SecretUnreadable("the secret is encrypted but no encryption key is configured")
        try:
            return self._fernet.decrypt(stored.removeprefix(PREFIX).encode()).decode()
        except InvalidToken:
            raise SecretUnreadable("no configured key decrypts this secret") from None
