"""Calling the dossier API and the gateway's admin API as the signed-in user (F-35): every
request carries the user's own bearer token, so the console never sees or does more than
the user may. An answer that is not 2xx becomes an `ApiFailure` holding the API's
`{"errors": [{"field", "reason"}]}` body."""

from typing import Any

import httpx


class ApiFailure(Exception):
    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{status}: {errors}")
        self.status = status
        self.errors = errors

    @property
    def by_field(self) -> dict[str, str]:
        """Field → reason, for showing each reason next to its field. A nested field
        (`steps.0.action_type`) is also given under its last part (`action_type`) and its
        first (`steps`), the names of the console's form fields."""
        found: dict[str, str] = {}
        for error in self.errors:
            field = error.get("field") or "_"
            reason = error.get("reason", "")
            found.setdefault(field, reason if "." not in field else f"{field}: {reason}")
            found.setdefault(field.rsplit(".", 1)[-1], reason)
            found.setdefault(field.split(".", 1)[0], f"{field}: {reason}" if "." in field else reason)
        return found

    @property
    def message(self) -> str:
        return "; ".join(
            (f"{e['field']}: " if e.get("field") else "") + str(e.get("reason", "")) for e in self.errors
        )

    @property
    def session_expired(self) -> bool:
        return self.status == 401 and any("expired" in str(e.get("reason", "")) for e in self.errors)


class Unreachable(Exception):
    """The API did not answer."""


class Api:
    def __init__(self, http: httpx.AsyncClient, base_url: str, token: str | None) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def request(self, method: str, path: str, *, raw: bool = False, **kwargs) -> Any:
        try:
            response = await self._http.request(
                method, self._base + path, headers={**self._headers, **kwargs.pop("headers", {})}, **kwargs
            )
        except httpx.HTTPError as exc:
            raise Unreachable(str(exc)) from exc
        if response.status_code >= 400:
            try:
                errors = response.json().get("errors") or [{"field": None, "reason": response.text[:300]}]
            except ValueError:
                errors = [{"field": None, "reason": f"HTTP {response.status_code}"}]
            raise ApiFailure(response.status_code, errors)
        if raw:
            return response
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def get(self, path: str, **kwargs) -> Any:
        return await self.request("GET", path, **kwargs)

    async def stream(self, path: str, **kwargs) -> httpx.Response:
        """A GET whose body is read as it comes (an export, F-40): the caller passes it on
        and closes it. A refusal is read whole and raised like any other."""
        request = self._http.build_request("GET", self._base + path, headers=self._headers, **kwargs)
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise Unreachable(str(exc)) from exc
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            try:
                errors = response.json().get("errors") or [{"field": None, "reason": response.text[:300]}]
            except ValueError:
                errors = [{"field": None, "reason": f"HTTP {response.status_code}"}]
            raise ApiFailure(response.status_code, errors)
        return response

    async def post(self, path: str, **kwargs) -> Any:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs) -> Any:
        return await self.request("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs) -> Any:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs) -> Any:
        return await self.request("DELETE", path, **kwargs)
