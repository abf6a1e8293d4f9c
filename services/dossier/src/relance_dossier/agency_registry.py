"""What the dossier service asks the transfer gateway, which owns the agencies registry
(F-31): whether an agency is registered and active, through the gateway's internal API
(`GET /internal/agencies/{code}`), never its tables."""

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
                 internal_token: str | None, timeout_seconds: float) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._headers = internal_headers(internal_token)
        self._timeout = timeout_seconds

    async def agency(self, code: str) -> RegisteredAgency | None:
        """The registered agency, or None when the gateway knows no agency by that code."""
        if not code.strip("."):
            return None  # "." and ".." would name another path, not an agency
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
        return RegisteredAgency(code=body["code"], name=body["name"], active=bool(body["active"]))


def _names_field(response: httpx.Response, field: str) -> bool:
    """The gateway's own 404 for an unknown agency (not a 404 of a wrong URL)."""
    try:
        return response.json()["errors"][0]["field"] == field
    except (ValueError, KeyError, IndexError, TypeError):
        return False
