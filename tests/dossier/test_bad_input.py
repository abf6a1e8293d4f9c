"""Issue 10, "Bad input is refused when it is given", tried as a new user would, on the
real stack: each is a 422 (or 415) naming the field, never a 201 that fails later."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from tests.dossier.test_dossier_api import client_body, errors_of, new_code
from tests.dossier.test_import import imported, prefix


async def test_f9_post_clients_with_an_unknown_scenario_code_is_422(dossier_api) -> None:
    code = new_code("BAD")
    response = await dossier_api.post("/clients", json=client_body(code, scenario_code="NO-SUCH-SCENARIO"))
    assert response.status_code == 422, response.text
    assert [f for f, _ in errors_of(response)] == ["scenario_code"]
    assert (await dossier_api.get(f"/clients/{code}")).status_code == 404


async def test_f3_f9_an_imported_client_with_an_unknown_scenario_is_a_row_error(dossier_api) -> None:
    p = prefix()
    report = await imported(dossier_api, "clients",
                            f"code;name;scenario_code\n{p}-A;Acme;\n{p}-B;Beta;NO-SUCH-SCENARIO\n")
    assert (report["inserted"], report["error_count"]) == (1, 1)
    assert report["errors"] == [
        {"row": 3, "field": "scenario_code", "reason": "unknown scenario code 'NO-SUCH-SCENARIO'"}]
    assert (await dossier_api.get(f"/clients/{p}-B")).status_code == 404


async def test_f18_a_template_with_a_jinja_syntax_error_is_422_with_its_line(dossier_api) -> None:
    code = f"bad-{uuid4().hex[:6]}"
    response = await dossier_api.post("/templates", json={
        "code": code, "channel": "email", "subject": "Relance",
        "body": "Bonjour,\n\nMerci de régler {{ client.name \n"})
    assert response.status_code == 422, response.text
    [(field, reason)] = errors_of(response)
    assert field == "body" and "line 3" in reason, reason
    assert (await dossier_api.get(f"/templates/{code}")).status_code == 404

    subject = await dossier_api.post("/templates", json={
        "code": code, "channel": "email", "subject": "{% if %}", "body": "ok"})
    assert subject.status_code == 422 and errors_of(subject)[0][0] == "subject"

    ok = await dossier_api.post("/templates", json={
        "code": code, "channel": "email", "subject": "Relance {{ client.code }}",
        "body": "Reste dû : #items_amount_selected\n#items_list_selected"})
    assert ok.status_code == 201, ok.text
    edited = await dossier_api.put(f"/templates/{code}", json={
        "channel": "email", "subject": "x", "body": "{% for i in items %}"})
    assert edited.status_code == 422 and errors_of(edited)[0][0] == "body"


async def test_f13_an_intervention_document_of_a_refused_type_is_415(dossier_api) -> None:
    code = new_code("BAD")
    assert (await dossier_api.post("/clients", json=client_body(code))).status_code == 201
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    async def alert():
        async def created():
            response = await dossier_api.post(f"/clients/{code}/interventions",
                                              json={"kind": "alert", "due_at": tomorrow})
            return response.json() if response.status_code == 201 else None
        from tests.conftest import eventually
        return await eventually(created, timeout=60)

    first = await alert()
    exe = await dossier_api.put(f"/interventions/{first['id']}/document",
                                files={"file": ("setup.exe", b"MZ\x90\x00", "application/x-msdownload")})
    assert exe.status_code == 415, exe.text
    assert errors_of(exe)[0][0] == "file"
    detail = await dossier_api.get(f"/interventions/{first['id']}")
    assert detail.json()["document_name"] is None


@pytest.mark.parametrize("field", ["segment", "locale", "category", "risk"])
async def test_f1_ten_thousand_characters_in_a_client_attribute_is_422_naming_it(dossier_api, field) -> None:
    code = new_code("BAD")
    response = await dossier_api.post("/clients", json=client_body(code, **{field: "x" * 10_000}))
    assert response.status_code == 422, response.text
    assert field in [f for f, _ in errors_of(response)]
    card = await dossier_api.post("/clients", json=client_body(code))
    etag = card.headers.get("etag") or (await dossier_api.get(f"/clients/{code}")).headers["etag"]
    patched = await dossier_api.patch(f"/clients/{code}", json={field: "y" * 10_000},
                                      headers={"If-Match": etag})
    assert patched.status_code == 422, patched.text
    assert field in [f for f, _ in errors_of(patched)]


async def test_f9_a_dossier_whose_scenario_is_unknown_shows_needs_attention_and_why(dossier_api, db) -> None:
    """Data written before the API refused it (or by another path): the dossier workflow
    does not fail, the prompt shows needs_attention with the reason (issue 10)."""
    from relance.events import DossierOpened
    from relance.outbox import write_events
    from tests.conftest import eventually

    client_id, dossier_id, code = uuid4(), uuid4(), new_code("BAD")
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO clients (id, code, name, scenario_code) VALUES ($1, $2, $2, $3)",
                           client_id, code, "LEGACY-UNKNOWN")
        await conn.execute("INSERT INTO dossiers (id, client_id, kind) VALUES ($1, $2, 'active')",
                           dossier_id, client_id)
        await write_events(conn, [DossierOpened(
            dossier_id=dossier_id, client_id=client_id, client_code=code,
            scenario_code="LEGACY-UNKNOWN").envelope(aggregate_id=dossier_id, client_id=client_id)])

    async def attention():
        response = await dossier_api.get(f"/clients/{code}/dossier/prompt")
        return response.json() if response.status_code == 200 and \
            response.json()["state"] == "needs_attention" else None

    prompt = await eventually(attention, timeout=60)
    assert "LEGACY-UNKNOWN" in prompt["problem"]
