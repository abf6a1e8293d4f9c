"""Signing in with a user name and password (F-4, F-35): an admin sets a password (only
its argon2 hash is kept); `POST /auth/sessions` answers a bearer token that acts as that
user, until it expires, is revoked on sign-out, or the password changes."""

from uuid import uuid4

import httpx

from tests.dossier.test_users_roles import api_as, create_collector


async def _user(dossier_api, role: str = "collector", password: str | None = "correct horse") -> dict:
    body = {"name": f"{role}-{uuid4().hex[:8]}", "role": role, "password": password}
    if role == "collector":
        body["collector_code"] = await create_collector(dossier_api)
    response = await dossier_api.post("/users", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def _sign_in(dossier_api, name: str, password: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=str(dossier_api.base_url), timeout=30) as anonymous:
        return await anonymous.post("/auth/sessions", json={"username": name, "password": password})


async def test_f35_a_password_opens_a_session_that_acts_as_the_user_until_sign_out(dossier_api, db):
    user = await _user(dossier_api)
    assert user["has_password"] is True
    stored = await db.fetchval("SELECT password_hash FROM users WHERE id = $1", user["id"])
    assert stored.startswith("$argon2") and "correct horse" not in stored

    response = await _sign_in(dossier_api, user["name"], "correct horse")
    assert response.status_code == 201, response.text
    session = response.json()
    assert (session["name"], session["role"]) == (user["name"], "collector")
    async with api_as(dossier_api, session["token"]) as api:
        me = (await api.get("/users/me")).json()
        assert (me["name"], me["collector_code"]) == (user["name"], user["collector_code"])
        assert (await api.get("/users")).status_code == 403  # the user's own rights, no more
        assert (await api.delete("/auth/sessions/current")).status_code == 204
        gone = await api.get("/users/me")
        assert gone.status_code == 401
    # The user's API token is untouched by sessions.
    async with api_as(dossier_api, user["token"]) as api:
        assert (await api.get("/users/me")).status_code == 200


async def test_f35_a_wrong_password_an_unknown_name_or_no_password_answer_401(dossier_api):
    user = await _user(dossier_api)
    api_only = await _user(dossier_api, "read_only", password=None)
    for name, password in ((user["name"], "wrong horse"), ("nobody-" + uuid4().hex, "correct horse"),
                           (api_only["name"], "")):
        response = await _sign_in(dossier_api, name, password or "x")
        assert response.status_code == 401, response.text
        assert response.json()["errors"] == [{"field": "password", "reason": "unknown user name or wrong password"}]


async def test_f35_an_expired_session_says_so_and_a_new_password_ends_the_sessions(dossier_api, db):
    user = await _user(dossier_api, "manager")
    token = (await _sign_in(dossier_api, user["name"], "correct horse")).json()["token"]
    other = (await _sign_in(dossier_api, user["name"], "correct horse")).json()["token"]
    await db.execute(
        "UPDATE user_sessions SET expires_at = now() - interval '1 second'"
        " WHERE token_sha256 = encode(sha256($1::bytea), 'hex')", token.encode())
    async with api_as(dossier_api, token) as api:
        expired = await api.get("/users/me")
    assert expired.status_code == 401
    assert "expired" in expired.json()["errors"][0]["reason"]

    short = await dossier_api.put(f"/users/{user['id']}/password", json={"password": "short"})
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "password"
    changed = await dossier_api.put(f"/users/{user['id']}/password", json={"password": "battery staple"})
    assert changed.status_code == 200 and changed.json()["has_password"] is True
    async with api_as(dossier_api, other) as api:
        assert (await api.get("/users/me")).status_code == 401
    assert (await _sign_in(dossier_api, user["name"], "correct horse")).status_code == 401
    assert (await _sign_in(dossier_api, user["name"], "battery staple")).status_code == 201
    async with api_as(dossier_api, user["token"]) as api:  # only an admin sets passwords
        assert (await api.put(f"/users/{user['id']}/password", json={"password": "x" * 12})).status_code == 403
