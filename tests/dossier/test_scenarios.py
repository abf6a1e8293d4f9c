"""Scenarios and templates through the dossier API (F-9, F-18): steps validated with
clear reasons, every edit a new version, a client given a scenario explicitly or by
default."""

from uuid import uuid4


def _steps(template: str = "relance-email-1") -> list[dict]:
    return [
        {"action_type": "email", "delay_days": 0, "template_code": template, "mode": "automatic",
         "priority": 2, "label": "Premier email"},
        {"action_type": "call", "delay_days": 7, "delay_from": "previous_step", "mode": "manual",
         "priority": 4},
    ]


async def test_f9_scenario_edit_creates_a_new_version_and_keeps_the_old(dossier_api):
    code = f"sc-{uuid4().hex[:8]}"
    created = await dossier_api.post("/scenarios", json={"code": code, "name": "Doux", "steps": _steps()})
    assert created.status_code == 201, created.text
    assert (created.json()["version"], len(created.json()["steps"])) == (1, 2)

    again = await dossier_api.post("/scenarios", json={"code": code, "name": "x", "steps": _steps()})
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "code"

    edited = await dossier_api.put(f"/scenarios/{code}", json={
        "name": "Doux v2", "steps": _steps()[:1], "comment": "un seul email"})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["version"], edited.json()["name"]) == (2, "Doux v2")

    latest = (await dossier_api.get(f"/scenarios/{code}")).json()
    assert (latest["version"], len(latest["steps"])) == (2, 1)
    first = (await dossier_api.get(f"/scenarios/{code}", params={"version": 1})).json()
    assert (first["name"], len(first["steps"])) == ("Doux", 2)  # running dossiers keep v1
    versions = (await dossier_api.get(f"/scenarios/{code}/versions")).json()
    assert [v["version"] for v in versions] == [1, 2]
    listed = {s["code"]: s["version"] for s in (await dossier_api.get("/scenarios")).json()}
    assert listed[code] == 2


async def test_f9_steps_are_validated_field_by_field(dossier_api):
    code = f"sc-{uuid4().hex[:8]}"
    unknown = await dossier_api.post("/scenarios", json={
        "code": code, "name": "x", "steps": _steps("no-such-template")})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0] == {
        "field": "steps.0.template_code", "reason": "no template with code 'no-such-template'"}

    wrong_channel = await dossier_api.post("/scenarios", json={
        "code": code, "name": "x", "steps": [
            {"action_type": "email", "delay_days": 0, "template_code": "relance-courrier-2"}]})
    assert wrong_channel.status_code == 422
    assert "is for letter, not email" in wrong_channel.json()["errors"][0]["reason"]

    no_template = await dossier_api.post("/scenarios", json={
        "code": code, "name": "x", "steps": [{"action_type": "sms", "delay_days": 1}]})
    assert no_template.status_code == 422
    assert no_template.json()["errors"][0]["field"] == "steps.0.template_code"

    bad_delay = await dossier_api.post("/scenarios", json={
        "code": code, "name": "x", "steps": [{"action_type": "call", "delay_days": -1}]})
    assert bad_delay.status_code == 422
    assert bad_delay.json()["errors"][0]["field"] == "steps.0.delay_days"

    empty = await dossier_api.post("/scenarios", json={"code": code, "name": "x", "steps": []})
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "steps"
    # Nothing half-written.
    assert (await dossier_api.get(f"/scenarios/{code}")).status_code == 404


async def test_f18_templates_crud_and_a_used_template_cannot_be_deleted(dossier_api):
    code = f"tpl-{uuid4().hex[:8]}"
    body = {"code": code, "channel": "email", "subject": "Relance {{ client.name }}",
            "body": "Reste dû : #items_amount_selected\n#items_list_selected"}
    created = await dossier_api.post("/templates", json=body)
    assert created.status_code == 201, created.text
    assert (await dossier_api.post("/templates", json=body)).status_code == 409
    edited = await dossier_api.put(f"/templates/{code}", json={**body, "subject": "Rappel"})
    assert edited.json()["subject"] == "Rappel"
    assert (await dossier_api.get(f"/templates/{code}")).json()["body"] == body["body"]
    bad = await dossier_api.post("/templates", json={**body, "code": f"{code}-2", "channel": "fax"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "channel"

    scenario = f"sc-{uuid4().hex[:8]}"
    assert (await dossier_api.post("/scenarios", json={
        "code": scenario, "name": "x", "steps": _steps(code)})).status_code == 201
    in_use = await dossier_api.delete(f"/templates/{code}")
    assert in_use.status_code == 409
    assert f"used by scenario {scenario} v1" in in_use.json()["errors"][0]["reason"]

    spare = f"tpl-{uuid4().hex[:8]}"
    await dossier_api.post("/templates", json={**body, "code": spare})
    assert (await dossier_api.delete(f"/templates/{spare}")).status_code == 204
    assert (await dossier_api.get(f"/templates/{spare}")).status_code == 404


async def test_f9_client_gets_a_scenario_explicitly_or_by_default(dossier_api, db):
    scenario = f"sc-{uuid4().hex[:8]}"
    await dossier_api.post("/scenarios", json={"code": scenario, "name": "x", "steps": _steps()})
    client = f"SC-{uuid4().hex[:8]}"
    assert (await dossier_api.post("/clients", json={"code": client, "name": "Client"})).status_code == 201

    explicit = await dossier_api.put(f"/clients/{client}/scenario", json={"scenario_code": scenario})
    assert explicit.status_code == 200, explicit.text
    assert explicit.json()["effective_scenario"] == scenario
    assert (await dossier_api.get(f"/clients/{client}")).json()["client"]["scenario_code"] == scenario

    back = await dossier_api.put(f"/clients/{client}/scenario", json={"scenario_code": None})
    assert back.json()["effective_scenario"] == "standard"  # the default scenario

    unknown = await dossier_api.put(f"/clients/{client}/scenario", json={"scenario_code": "nope"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "scenario_code"
    audit = await db.fetch(
        "SELECT action FROM audit_log WHERE entity = 'client' AND action = 'set_scenario'"
        " AND client_id = (SELECT id FROM clients WHERE code = $1)", client)
    assert len(audit) == 2


async def test_f9_a_client_without_an_explicit_scenario_gets_one_by_rule(dossier_api):
    """The first matching rule gives the scenario; an explicit scenario beats the rules;
    a client no rule matches follows the default scenario."""
    from datetime import date, timedelta

    from tests.conftest import eventually

    calls_first = f"sc-rule-{uuid4().hex[:6]}"
    created = await dossier_api.post("/scenarios", json={"code": calls_first, "name": "Appel d'abord", "steps": [
        {"action_type": "call", "delay_days": 0, "mode": "manual", "priority": 5, "label": "Appeler"}]})
    assert created.status_code == 201, created.text
    segment = f"seg-{uuid4().hex[:6]}"
    bad = await dossier_api.put("/scenario-rules", json=[{"criteria": {}, "scenario_code": calls_first}])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "0.criteria"
    unknown = await dossier_api.put("/scenario-rules", json=[
        {"criteria": {"segment": segment}, "scenario_code": "nope"}])
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "0.scenario_code"
    rules = await dossier_api.put("/scenario-rules", json=[
        {"criteria": {"segment": segment}, "scenario_code": calls_first}])
    assert rules.status_code == 200, rules.text
    try:
        overdue = [{"number": "F-1", "due_date": str(date.today() - timedelta(days=10)), "amount": "80.00"}]

        async def first_action(code: str) -> str:
            async def check():
                rows = (await dossier_api.get(f"/clients/{code}/interventions")).json()
                return rows[0]["action_type"] if rows else None
            return await eventually(check, timeout=60)

        by_rule, explicit, other = (f"RULE-{uuid4().hex[:8]}" for _ in range(3))
        for code, extra in ((by_rule, {"segment": segment}),
                            (explicit, {"segment": segment, "scenario_code": "standard"}),
                            (other, {"segment": "another"})):
            response = await dossier_api.post("/clients", json={"code": code, "name": code, "items": overdue, **extra})
            assert response.status_code == 201, response.text
        assert await first_action(by_rule) == "call"  # the rule's scenario
        assert await first_action(explicit) == "email"  # explicit beats the rules
        assert await first_action(other) == "email"  # no rule: the default scenario
    finally:
        cleared = await dossier_api.put("/scenario-rules", json=[])
        assert cleared.status_code == 200 and cleared.json() == []


async def test_f43_a_scenario_rule_balance_over_reads_the_clients_currency(dossier_api):
    """F-43, F-9: "balance over 1,000 EUR or 1,400 USD" gives its scenario to a client
    owing 1,200 EUR or 1,500 USD; one owing 900 EUR and 500 USD follows the default."""
    from datetime import date, timedelta

    from tests.conftest import eventually

    calls_first = f"sc-big-{uuid4().hex[:6]}"
    created = await dossier_api.post("/scenarios", json={"code": calls_first, "name": "Gros encours", "steps": [
        {"action_type": "call", "delay_days": 0, "mode": "manual", "priority": 5, "label": "Appeler"}]})
    assert created.status_code == 201, created.text
    segment = f"seg-{uuid4().hex[:6]}"
    rules = await dossier_api.put("/scenario-rules", json=[
        {"criteria": {"segment": segment, "balance_over": {"EUR": "1000", "USD": "1400"}},
         "scenario_code": calls_first}])
    assert rules.status_code == 200, rules.text
    try:
        due = str(date.today() - timedelta(days=10))

        async def first_action(code: str) -> str:
            async def check():
                rows = (await dossier_api.get(f"/clients/{code}/interventions")).json()
                return rows[0]["action_type"] if rows else None
            return await eventually(check, timeout=60)

        owed = {"euros": [("1200.00", "EUR")], "dollars": [("1500.00", "USD")],
                "mixed": [("900.00", "EUR"), ("500.00", "USD")]}
        codes = {}
        for name, amounts in owed.items():
            codes[name] = f"BIG-{uuid4().hex[:8]}"
            items = [{"number": f"F-{n}", "due_date": due, "amount": amount, "currency": currency}
                     for n, (amount, currency) in enumerate(amounts)]
            response = await dossier_api.post("/clients", json={
                "code": codes[name], "name": name, "segment": segment, "items": items})
            assert response.status_code == 201, response.text
        assert await first_action(codes["euros"]) == "call"
        assert await first_action(codes["dollars"]) == "call"
        assert await first_action(codes["mixed"]) == "email"  # the default scenario
    finally:
        cleared = await dossier_api.put("/scenario-rules", json=[])
        assert cleared.status_code == 200 and cleared.json() == []
