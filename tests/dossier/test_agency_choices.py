"""The agencies a transfer can go to (F-27, F-31): every signed-in user reads their codes
and names from the gateway, only the active ones, and nothing of their credentials."""

from uuid import uuid4

import httpx

from tests.dossier.test_users_roles import create_collector, create_user


async def test_f27_any_signed_in_user_lists_the_active_agencies_by_code_and_name(platform, dossier_api, db):
    inactive = f"OFF{uuid4().hex[:6].upper()}"
    await db.execute(
        "INSERT INTO gateway_agencies (id, code, name, active, api_key_sha256)"
        " VALUES ($1, $2, 'Closed agency', false, $3)", uuid4(), inactive, uuid4().hex)
    collector = await create_user(dossier_api, "collector", await create_collector(dossier_api))
    async with httpx.AsyncClient(base_url=platform.running["transfer-gateway"].url, timeout=30) as gateway:
        assert (await gateway.get("/agencies")).status_code == 401
        response = await gateway.get("/agencies", headers={"Authorization": f"Bearer {collector['token']}"})
        assert response.status_code == 200, response.text
        agencies = response.json()
        assert "RECOUVEO" in [a["code"] for a in agencies]  # the demo agency the gateway registers
        assert inactive not in [a["code"] for a in agencies]
        assert all(set(a) == {"code", "name"} for a in agencies)
        admin_list = await gateway.get("/admin/agencies", headers={"Authorization": f"Bearer {collector['token']}"})
        assert admin_list.status_code == 403  # the registry itself stays the admins'
