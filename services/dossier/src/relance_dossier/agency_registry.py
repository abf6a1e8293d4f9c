"""What the dossier service asks the transfer gateway, which owns the agencies registry
(F-31): whether an agency is registered and active, through the gateway's internal API
(`GET /internal/agencies/{code}`), never its tables. An active agency's answer is kept
for `cache_seconds`, so a burst of transfers to one agency asks the gateway once."""

import time
from urllib.parse import quote

import httpx
import structlog

from relance.api.internal import internal_headers
from relance_dossier.domain.transfers import RegisteredAgency

log = structlog.get_logger(__name__)


class GatewayUnavailable(Exception):
    """The transfer gateway did not answer (down, timeout, 5xx, or not the gateway)."""


class AgencyRegistry:
    def __init__(self, http: httpx.AsyncClient, base_url: str, *,
                 internal_token: str | None, timeout_seconds: float,
                 cache_seconds: float = 0) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._headers = internal_headers(internal_token)
        self._timeout = timeout_seconds
        self._cache_seconds = cache_seconds
        self._active: dict[str, tuple[RegisteredAgency, float]] = {}  # code → (answer, until)

    async def agency(self, code: str) -> RegisteredAgency | None:
        """The registered agency, or None when the gateway knows no agency by that code."""
        if not code.strip("."):
            return None  # "." and ".." would name another path, not an agency
        kept = self._active.get(code)
        if kept is not None and time.monotonic() < kept[1]:
            return kept[0]
        url = f"{self._base}/internal/agencies/{quote(code, safe='')}"
        try:
            response = await self._http.get(url, headers=self._headers, timeout=self._timeout)
        except httpx.HTTPError as exc:
            log.warning("dossier.agency_registry_unreachable", url=url, error=repr(exc))
            raise GatewayUnavailable("unreachable") from None
        if response.status_code == 404 and _names_field(response, "code"):
            return None
        if response.status_code != 200:
            log.warning("dossier.agency_registry_failed", url=url, status=response.status_code)
            raise GatewayUnavailable(f"HTTP {response.status_code}")
        body = response.json()
        agency = RegisteredAgency(code=body["code"], name=body["name"], active=bool(body["active"]))
        # Only an active agency is kept: an unknown or deactivated one is asked again, so
        # an agency registered or reactivated is usable at once.
        if agency.active and self._cache_seconds > 0:
            self._active[code] = (agency, time.monotonic() + self._cache_seconds)
        else:
            self._active.pop(code, None)
        return agency


def _names_field(response: httpx.Response, field: str) -> bool:
    """The gateway's own 404 for an unknown agency (not a 404 of a wrong URL)."""
    try:
        return response.json()["errors"][0]["field"] == field
    except (ValueError, KeyError, IndexError, TypeError):
        return False
