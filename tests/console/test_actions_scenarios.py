"""Action management (F-14) and scenarios and templates in the administration (F-9, F-18)."""

from uuid import uuid4

from playwright.async_api import expect

from tests.conftest import eventually
from tests.console.test_seed_002_assignment import _client, _scenario


async def test_f14_the_actions_due_across_dossiers_filtered_by_collector_and_sorted_by_priority(
    signed_in, dossier_api
):
    scenario = await _scenario(dossier_api)  # a manual call of priority 4, due at once
    tag = uuid4().hex[:6].upper()
    collector = f"ACT-{tag}"
    assert (await dossier_api.post("/collectors", json={"code": collector, "name": "Actions"})).status_code == 201
    for n in (1, 2):
        await _client(dossier_api, f"A{tag}-{n}", scenario)
        await dossier_api.put(f"/clients/A{tag}-{n}/collector", json={"collector_code": collector})
    response = await dossier_api.post(f"/clients/A{tag}-1/interventions", json={
        "kind": "manual", "action_type": "internal_task", "priority": 1, "label": "Vérifier l'adresse"})
    assert response.status_code == 201, response.text

    async def opened():  # the dossier workflows open the scenario's first steps
        due = (await dossier_api.get("/actions", params={"collector": collector})).json()
        return len(due) == 3

    await eventually(opened, timeout=60)
    page, _manager = await signed_in("manager")
    await page.goto("/actions")
    await page.select_option("#f-collector", collector)
    await page.click("#filter")
    rows = page.locator("#actions-table .action-row")
    await expect(rows).to_have_count(3)
    await expect(rows.first).to_contain_text("Vérifier l'adresse")  # by priority, 1 first
    await page.click("#actions-table .sort-priority")  # the other way round
    await expect(page.locator("#actions-table .sort-priority")).to_contain_text("▼")
    await expect(rows.last).to_contain_text("Vérifier l'adresse")
    await expect(rows.first).to_contain_text("Appeler le client")
    await rows.first.locator(".client-link").click()
    await expect(page.locator("#client-name")).to_contain_text(f"A{tag}")


async def test_f9_a_manager_writes_a_scenario_and_a_template_and_bad_steps_are_explained(signed_in):
    page, _manager = await signed_in("manager")
    await page.goto("/admin/scenarios")
    code = f"sc-ui-{uuid4().hex[:6]}"
    await page.fill("#scenario-form input[name=code]", code)
    await page.fill("#scenario-form input[name=name]", "Relance courte")
    await page.fill("#scenario-form textarea[name=steps]", "fax; 0")
    await page.click("#save-scenario")
    await expect(page.locator("#error-steps")).to_contain_text("steps.0.action_type")
    await expect(page.locator("#scenario-form input[name=name]")).to_have_value("Relance courte")
    await page.fill("#scenario-form textarea[name=steps]",
                    "email; 0; relance-email-1; 2; automatic; Premier email\ncall; 7; ; 3; manual; Appel")
    await page.click("#save-scenario")
    await expect(page.locator("#admin-message")).to_have_text("Scenario saved.")
    scenario = page.locator(f".scenario[data-code='{code}']")
    await expect(scenario).to_contain_text("v1")
    await expect(scenario.locator("tbody tr")).to_have_count(2)
    # A new version of the same code.
    await page.fill("#scenario-form input[name=code]", code)
    await page.fill("#scenario-form input[name=name]", "Relance courte")
    await page.fill("#scenario-form textarea[name=steps]", "letter; 5; relance-courrier-2; 1; automatic_to_confirm")
    await page.click("#save-scenario")
    await expect(page.locator(f".scenario[data-code='{code}']")).to_contain_text("v2")
    await page.locator(f".scenario[data-code='{code}'] .versions summary").click()
    versions = page.locator(f".scenario[data-code='{code}'] .version")
    await expect(versions).to_have_count(2)
    await expect(versions.last).to_contain_text("Email +0 → Call +7")

    template = f"tpl-ui-{uuid4().hex[:6]}"
    await page.fill("#template-form input[name=code]", template)
    await page.fill("#template-form input[name=subject]", "Rappel")
    await page.fill("#template-form textarea[name=body]", "Montant dû : #items_amount_selected")
    await page.click("#save-template")
    await expect(page.locator("#admin-message")).to_have_text("Template saved.")
    await expect(page.locator("#templates .template", has_text=template)).to_contain_text("Rappel")
