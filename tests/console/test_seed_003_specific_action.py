"""Seed 003 in the browser (F-15 … F-19): on items ticked in the statement, the three
steps (status and comment; an email or not; a specific action at a date copied from a
template), with a live preview in which `#items_amount_selected` and
`#items_list_selected` cover the ticked items only."""

import re
from datetime import date, timedelta
from uuid import uuid4

from playwright.async_api import expect


async def test_seed_003_dispute_two_of_four_items_and_a_specific_action_from_a_template_with_its_preview(
    signed_in, dossier_api
):
    page, person = await signed_in("collector")
    code = f"SA-{uuid4().hex[:8].upper()}"
    response = await dossier_api.post("/clients", json={
        "code": code, "name": "Litiges SA", "items": [
            {"number": f"F-{n}", "due_date": str(date.today() - timedelta(days=20)), "amount": f"{n}00.00"}
            for n in range(1, 5)]})
    assert response.status_code == 201, response.text
    await dossier_api.put(f"/clients/{code}/collector", json={"collector_code": person.collector})
    template = f"tpl-litige-{uuid4().hex[:6]}"
    response = await dossier_api.post("/templates", json={
        "code": template, "channel": "email", "subject": "Suivi de votre litige",
        "body": "Montant en litige : #items_amount_selected\n#items_list_selected"})
    assert response.status_code == 201, response.text

    await page.goto(f"/clients/{code}")
    await page.check("#statement .item-box[data-number='F-2']")
    await page.check("#statement .item-box[data-number='F-4']")
    await page.click("#specific-action")
    await expect(page.locator("#selected-items tr")).to_have_count(2)

    # Step 1: a dispute with its comment. Step 2: no email. Step 3: an action at a date.
    await page.check("#set-status")
    await page.select_option("#f-status", "dispute")
    await page.fill("#f-status_comment", "Livraison contestée")
    await page.check("#email-none")
    await page.check("#follow-action")
    due = (date.today() + timedelta(days=7)).isoformat() + "T10:00"
    await page.fill("#f-due_at", due)
    await page.select_option("#f-mode", "automatic_to_confirm")

    # Without an action type nor a copy: the reason shows, what was typed stays.
    await page.click("#save-action")
    await expect(page.locator("#error-action_type")).to_contain_text("action type")
    await expect(page.locator("#f-status_comment")).to_have_value("Livraison contestée")
    await expect(page.locator("#f-due_at")).to_have_value(due)
    await expect(page.locator("#selected-items tr")).to_have_count(2)

    # Copied from the template: the live preview covers the two ticked items only.
    await page.select_option("#f-copy_template", template)
    await expect(page.locator("#f-body")).to_have_value(re.compile("#items_amount_selected"))
    await expect(page.locator("#preview-body")).to_contain_text("Montant en litige : €600.00")
    preview = await page.locator("#preview-body").inner_text()
    assert "F-2" in preview and "F-4" in preview
    assert "F-1" not in preview and "F-3" not in preview and "€1,000.00" not in preview
    await page.fill("#f-body", "Reste dû contesté : #items_amount_selected")
    await expect(page.locator("#preview-body")).to_have_text("Reste dû contesté : €600.00")
    await page.click("#save-action")

    await expect(page.locator(".flash")).to_have_text("Specific action saved.")
    for number in ("F-2", "F-4"):
        row = page.locator(f"#statement .item-row[data-number='{number}'] .item-status")
        await expect(row).to_contain_text("Dispute")
        await expect(row).to_contain_text("Livraison contestée")
    await expect(page.locator("#statement .item-row[data-number='F-1'] .item-status")).to_have_text("")
    action = page.locator("#specific-actions .specific-action-row")
    await expect(action).to_have_count(1)
    await expect(action).to_contain_text("2 items")
    await expect(action).to_contain_text("Automatic, to confirm")
    # F-19: it is in the collector's agenda too, with what is to come.
    await page.goto("/agenda")
    await expect(page.locator("#actions-table .action-row", has_text=code).filter(
        has_text="specific action")).to_have_count(0)  # due in a week: not today's
    await page.click("#agenda-all")
    await expect(page.locator("#actions-table .action-row", has_text=code).filter(
        has_text="specific action")).to_contain_text("Email")

    # French by a click: statuses, amounts and dates for the locale.
    await page.goto(f"/clients/{code}")
    await page.click("header .lang a:text('FR')")
    await expect(page.locator("#statement .item-row[data-number='F-2'] .item-status")).to_contain_text("litige")
    await expect(page.locator("#balance")).to_have_text(re.compile(r"1\s000,00\s€"))
    await expect(page.locator("h2", has_text="État de compte")).to_be_visible()
