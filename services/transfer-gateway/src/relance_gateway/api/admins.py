"""Relance admins on the gateway's admin API (F-31, F-33): the same bearer API tokens as
the dossier API, checked by asking the dossier service, which owns the users
(`GET /auth/introspect`). A positive answer is kept for ADMIN_TOKEN_CACHE_SECONDS, so a
deactivated user's token stops working here within that delay; an unknown token is
asked again every time. When the dossier cannot answer, the admin API answers 503."""

import time

import httpx
import structlog
from fastapi import Request

from relance.api.auth import Introspection, Principal, Role, authenticated_by, role_guard, token_sha256
from relance.api.errors import ApiError

log = structlog.get_logger(__name__)

INTROSPECT_PATH = "/auth/introspect"


class DossierUnavailable(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(503, "Authorization",
                         f"the dossier service, which checks API tokens, cannot answer ({detail}); retry")


class TokenIntrospection:
    """Who a bearer token is, asked of the dossier service, with a short positive cache."""

    MAX_CACHED = 10_000

    def __init__(self, http: httpx.AsyncClient, dossier_api_url: str, *,
                 cache_seconds: float, timeout_seconds: float) -> None:
        self._http = http
        self._url = dossier_api_url.rstrip("/") + INTROSPECT_PATH
        self._cache_seconds = cache_seconds
        self._timeout = timeout_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}

    async def principal(self, token: str) -> Principal | None:
        key = token_sha256(token)  # the cache keeps hashes, never tokens
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            response = await self._http.get(
                self._url, headers={"Authorization": f"Bearer {token}"}, timeout=self._timeout)
        except httpx.HTTPError as exc:
            log.warning("gateway.introspection_unreachable", url=self._url, error=repr(exc))
            raise DossierUnavailable("unreachable") from None
        if response.status_code == 401:
            self._cache.pop(key, None)
            return None
        if response.status_code != 200:
            log.warning("gateway.introspection_failed", url=self._url, status=response.status_code)
            raise DossierUnavailable(f"HTTP {response.status_code}")
        principal = Introspection.model_validate(response.json()).principal()
        if self._cache_seconds > 0:
            if len(self._cache) >= self.MAX_CACHED:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                if len(self._cache) >= self.MAX_CACHED:
                    self._cache.clear()
            self._cache[key] = (now + self._cache_seconds, principal)
        return principal


async def _introspected(request: Request, token: str) -> Principal | None:
    return await request.app.state.introspection.principal(token)


current_user = authenticated_by(_introspected)
admin_only = role_guard(current_user, Role.ADMIN)
