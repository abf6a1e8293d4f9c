"""Seed 002 in the browser (F-5 … F-8): paste client codes from a spreadsheet, select all,
assign a collector, save the search and run it again from "my searches", the alert of
clients with a balance and no collector, an assignment rule and the default collector on
new clients, and the new collector's agenda."""

from datetime import date, timedelta
from uuid import uuid4

from playwright.async_api import expect


async def _scenario(dossier_api) -> str:
    code = f"sc-con-{uuid4().hex[:6]}"
    response = await dossier_api.post("/scenarios", json={"code": code, "name": "Appel", "steps": [
        {"action_type": "call", "delay_days": 0, "mode": "manual", "priority": 4, "label": "Appeler le client"}]})
    assert response.status_code == 201, response.text
    return code


async def _client(dossier_api, code: str, scenario: str, segment: str = "PME", amount: str = "95000.00") -> dict:
    response = await dossier_api.post("/clients", json={
        "code": code, "name": f"Société {code}", "country": "FR", "segment": segment, "scenario_code": scenario,
        "items": [{"number": "F-1", "due_date": str(date.today() - timedelta(days=15)), "amount": amount}]})
    assert response.status_code == 201, response.text
    return response.json()


async def test_seed_002_paste_codes_assign_save_the_search_rules_default_alert_and_agenda(
    signed_in, dossier_api
):
    scenario = await _scenario(dossier_api)
    tag = uuid4().hex[:6].upper()
    codes = [f"P{tag}-{n}" for n in range(1, 6)]
    for code in codes:
        await _client(dossier_api, code, scenario)
    page, _person = await signed_in("manager")

    # F-7: the alert lists them (largest balances first).
    await page.goto("/clients")
    await page.click("#alert-link")
    for code in codes:
        await expect(page.locator(f"#alert-list .alert-client[data-code='{code}']")).to_be_visible()

    # A new collector, from the administration.
    collector = f"NEW-{tag}"
    await page.goto("/admin/collectors")
    await page.fill("#new-collector input[name=code]", collector)
    await page.fill("#new-collector input[name=name]", f"Nouvelle chargée {tag}")
    await page.click("#create-collector")
    await expect(page.locator(f"#collectors .collector[data-code='{collector}']")).to_be_visible()

    # F-5: paste five codes as a spreadsheet column gives them (and a stray separator).
    await page.goto("/clients")
    await page.fill("#f-codes", f"{codes[0]}\n{codes[1]}\t{codes[2]};{codes[3]}\r\n{codes[4]}\n")
    await page.click("#search-button")
    await expect(page.locator("#results .result")).to_have_count(5)
    await page.check("#select-all")
    await page.select_option("#assign-to", collector)
    await page.click("#assign-button")
    await expect(page.locator("#search-message")).to_contain_text("5 changed")
    await expect(page.locator("#results .result-collector")).to_have_text([collector] * 5)

    # Saved under a name, then run again from "my searches".
    await page.fill("#search-name", f"Relevé Excel {tag}")
    await page.click("#save-search")
    await expect(page.locator("#search-message")).to_have_text("Search saved.")
    await page.goto("/clients")
    await page.locator(f"#my-searches .saved-search[data-name='Relevé Excel {tag}'] .show-search").click()
    await expect(page.locator("#results .result")).to_have_count(5)

    # F-8: the new collector's agenda has their clients' pending actions.
    await page.goto("/agenda")
    await page.select_option("#pick-collector", collector)
    await expect(page.locator("#agenda-collector")).to_have_text(collector)
    for code in codes:
        await expect(page.locator("#actions-table .action-row", has_text=code)).to_have_count(1)

    # F-6: a rule for a segment, and the default collector for the others, on new clients.
    segment = f"seg-{tag.lower()}"
    fallback = f"DEF-{tag}"
    response = await dossier_api.post("/collectors", json={"code": fallback, "name": f"Par défaut {tag}"})
    assert response.status_code == 201, response.text
    try:
        await page.goto("/admin/assignment")
        await page.fill("#new-rule input[name=segment]", segment)
        await page.select_option("#rule-collector", collector)
        await page.click("#add-rule")
        await expect(page.locator("#admin-message")).to_have_text("Rule saved.")
        await expect(page.locator("#rules .rule", has_text=segment)).to_contain_text(collector)
        await page.select_option("#default-collector", fallback)
        await page.click("#save-default")
        await expect(page.locator("#admin-message")).to_have_text("Default collector saved.")

        by_rule = await _client(dossier_api, f"R{tag}", scenario, segment=segment)
        by_default = await _client(dossier_api, f"D{tag}", scenario, segment="autre")
        assert by_rule["client"]["collector_code"] == collector
        await page.goto(f"/clients/{by_rule['client']['code']}")
        await expect(page.locator("#collector-select")).to_have_value(collector)
        await page.goto(f"/clients/{by_default['client']['code']}")
        await expect(page.locator("#collector-select")).to_have_value(fallback)
        # F-24: changed again from the card's drop-down.
        await page.select_option("#collector-select", collector)
        await page.click("#collector-save")
        await expect(page.locator(".flash")).to_have_text("Collector changed.")
        await page.goto(f"/agenda?collector={collector}")
        await expect(page.locator("#actions-table .action-row", has_text=f"D{tag}")).to_have_count(1)
    finally:  # other tests' new clients keep no collector
        await dossier_api.put("/assignment/default-collector", json={"collector_code": None})
        rules = (await dossier_api.get("/assignment/rules")).json()
        await dossier_api.put("/assignment/rules", json={"rules": [
            {"criteria": r["criteria"], "collector_code": r["collector_code"]}
            for r in rules if r["criteria"].get("segment") != segment]})


async def test_f43_search_by_a_balance_over_a_threshold_in_one_currency(signed_in, dossier_api):
    """F-43: "balance over 1,000 USD" finds the client owing 1,500 USD, not the one owing
    1,200 EUR; a threshold that is not an amount is refused next to its field."""
    segment = f"seg-{uuid4().hex[:6]}"
    due = str(date.today() + timedelta(days=20))
    codes = {}
    for name, currency in (("dollars", "USD"), ("euros", "EUR")):
        codes[name] = f"T{uuid4().hex[:8].upper()}"
        amount = "1500.00" if currency == "USD" else "1200.00"
        response = await dossier_api.post("/clients", json={
            "code": codes[name], "name": name, "segment": segment,
            "items": [{"number": "F-1", "due_date": due, "amount": amount, "currency": currency}]})
        assert response.status_code == 201, response.text
    page, _person = await signed_in("manager")
    await page.goto("/clients")
    await page.fill("#f-segment", segment)
    await page.fill("#f-balance_over", "1000")
    await page.fill("#f-balance_currency", "USD")
    await page.click("#search-button")
    await expect(page.locator("#results .result")).to_have_count(1)
    row = page.locator(f"#results .result[data-code='{codes['dollars']}']")
    await expect(row.locator(".balance[data-currency='USD']")).to_contain_text("1,500.00")

    await page.fill("#f-balance_over", "beaucoup")
    await page.click("#search-button")
    await expect(page.locator("#error-balance_over")).to_be_visible()
