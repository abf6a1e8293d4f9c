"""Gateway admins are the dossier's users (F-31, F-33): the gateway asks the dossier API
who a bearer token is (`GET /auth/introspect`) and never reads the users table. A bad
token is 401, a user who is not an admin is 403, a dossier that cannot answer is 503; a
positive answer is kept for a short while. Internal routes need the internal token."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest

from relance.api.internal import INTERNAL_TOKEN_HEADER
from relance_gateway.api.admins import TokenIntrospection
from relance_gateway.api.app import create_app
from relance_gateway.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.dossier.test_users_roles import create_user

ADMIN = {"user_id": str(uuid4()), "name": "ada", "role": "admin", "collector_id": None,
         "actor": "user:ada"}
MANAGER = {**ADMIN, "user_id": str(uuid4()), "name": "max", "role": "manager", "actor": "user:max"}


class FakeDossier:
    """The dossier's introspection endpoint, answering from a table of tokens."""

    def __init__(self, users: dict[str, dict], down: bool = False) -> None:
        self.users, self.down, self.calls = users, down, []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        assert request.url.path == "/auth/introspect"
        token = request.headers["authorization"].removeprefix("Bearer ")
        if token not in self.users:
            return httpx.Response(401, json={"errors": [{"field": "Authorization",
                                                          "reason": "unknown or revoked API token"}]})
        return httpx.Response(200, json=self.users[token])


def gateway_with(dossier: FakeDossier, cache_seconds: float = 30.0) -> httpx.AsyncClient:
    """The gateway's application in this process; only its admin authentication is used
    (every request here is refused before the database would be)."""
    introspection = TokenIntrospection(
        httpx.AsyncClient(transport=httpx.MockTransport(dossier)), "http://dossier.test",
        cache_seconds=cache_seconds, timeout_seconds=1.0,
    )
    app = create_app(Settings(), pool=None, dispatcher=None, secret_box=None,  # type: ignore[arg-type]
                     introspection=introspection)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test")


async def test_f33_a_bad_token_is_401_as_the_dossier_answers_it_and_is_asked_again_each_time():
    dossier = FakeDossier({})
    async with gateway_with(dossier) as gateway:
        for _ in range(2):
            refused = await gateway.get("/admin/agencies", headers={"Authorization": "Bearer rl_bad"})
            assert refused.status_code == 401, refused.text
            assert refused.headers["WWW-Authenticate"] == "Bearer"
            assert refused.json()["errors"][0]["field"] == "Authorization"
        missing = await gateway.get("/admin/agencies")
    assert missing.status_code == 401
    # Both bad-token calls were asked of the dossier (no negative cache); no token, no call.
    assert [c.headers["authorization"] for c in dossier.calls] == ["Bearer rl_bad"] * 2


async def test_f33_a_user_who_is_not_an_admin_is_403_and_answers_are_cached_briefly():
    dossier = FakeDossier({"rl_manager": MANAGER})
    async with gateway_with(dossier) as gateway:
        for _ in range(3):
            refused = await gateway.get("/admin/agencies", headers={"Authorization": "Bearer rl_manager"})
            assert refused.status_code == 403, refused.text
    assert len(dossier.calls) == 1  # the positive answer is reused within the cache delay

    uncached = FakeDossier({"rl_manager": MANAGER})
    async with gateway_with(uncached, cache_seconds=0) as gateway:
        for _ in range(2):
            await gateway.get("/admin/agencies", headers={"Authorization": "Bearer rl_manager"})
    assert len(uncached.calls) == 2


async def test_f33_when_the_dossier_cannot_answer_the_admin_api_is_503():
    async with gateway_with(FakeDossier({"rl_admin": ADMIN}, down=True)) as gateway:
        response = await gateway.get("/admin/agencies", headers={"Authorization": "Bearer rl_admin"})
    assert response.status_code == 503, response.text
    assert "dossier" in response.json()["errors"][0]["reason"]


# ---- on the platform: the real dossier answers ---------------------------------------------


@pytest.fixture
async def gateway_url(platform) -> str:
    return platform.running["transfer-gateway"].url


async def test_f33_dossier_users_are_gateway_admins_by_their_role(platform, dossier_api, gateway_url):
    admin, manager = await create_user(dossier_api, "admin"), await create_user(dossier_api, "manager")
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as gateway:
        def as_(token: str) -> dict:
            return {"Authorization": f"Bearer {token}"}

        bad = await gateway.get("/admin/agencies", headers=as_("rl_not_a_token"))
        assert bad.status_code == 401, bad.text
        assert (await gateway.get("/admin/agencies", headers=as_(manager["token"]))).status_code == 403
        assert (await gateway.get("/admin/agencies", headers=as_(admin["token"]))).status_code == 200
        code = f"AUTH-{uuid4().hex[:6].upper()}"
        created = await gateway.post("/admin/agencies", headers=as_(admin["token"]),
                                     json={"code": code, "name": "Audited agency"})
        assert created.status_code == 201, created.text


async def test_f31_internal_agency_reads_need_the_internal_token(platform, gateway_url):
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as gateway:
        code = platform.demo_agency_code
        refused = await gateway.get(f"/internal/agencies/{code}")
        assert refused.status_code == 401, refused.text
        answer = await gateway.get(f"/internal/agencies/{code}",
                                   headers={INTERNAL_TOKEN_HEADER: platform.internal_api_token})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"code": code, "name": answer.json()["name"], "active": True}
        unknown = await gateway.get("/internal/agencies/NOBODY",
                                    headers={INTERNAL_TOKEN_HEADER: platform.internal_api_token})
        assert unknown.status_code == 404
        admin = await gateway.get("/admin/agencies", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert admin.status_code == 200
        assert "/internal/agencies/{code}" not in (await gateway.get("/openapi.json")).json()["paths"]
