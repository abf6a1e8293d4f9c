"""Seed 001 in the browser (F-10 … F-13): a three-step scenario's interventions: update a
line, Prepare, Done, the "prepare the next intervention?" prompt, a letter that is Done by
itself once printed, one document attached and never deletable, and an alert made by hand
then deleted after confirmation."""

from datetime import date, timedelta
from uuid import uuid4

from playwright.async_api import expect

from tests.conftest import eventually


async def _scenario_client(dossier_api, collector: str) -> str:
    scenario = f"sc-con-{uuid4().hex[:6]}"
    response = await dossier_api.post("/scenarios", json={"code": scenario, "name": "Appel, courrier, email", "steps": [
        {"action_type": "call", "delay_days": 0, "mode": "manual", "priority": 4, "label": "Appel"},
        {"action_type": "letter", "delay_days": 10, "delay_from": "previous_step",
         "template_code": "relance-courrier-2", "mode": "automatic_to_confirm", "priority": 3},
        {"action_type": "email", "delay_days": 30, "delay_from": "previous_step",
         "template_code": "relance-email-1", "mode": "automatic"}]})
    assert response.status_code == 201, response.text
    code = f"INT-{uuid4().hex[:8].upper()}"
    response = await dossier_api.post("/clients", json={
        "code": code, "name": "Interventions SARL", "scenario_code": scenario,
        "contacts": [{"name": "Compta", "channels": [
            {"type": "postal", "value": "Interventions SARL\n3 rue du Port\n13002 Marseille",
             "state": "validated", "is_default": True},
            {"type": "email", "value": f"{code.lower()}@client.example", "state": "validated", "is_default": True}]}],
        "items": [{"number": "F-1", "due_date": str(date.today() - timedelta(days=20)), "amount": "700.00"}]})
    assert response.status_code == 201, response.text
    await dossier_api.put(f"/clients/{code}/collector", json={"collector_code": collector})

    async def opened():
        rows = (await dossier_api.get(f"/clients/{code}/interventions")).json()
        return [r for r in rows if r["status"] == "todo"]

    await eventually(opened, timeout=60)
    return code


async def test_seed_001_update_done_prepare_a_letter_done_by_itself_the_prompt_and_one_document(
    signed_in, dossier_api
):
    page, person = await signed_in("collector")
    code = await _scenario_client(dossier_api, person.collector)
    page.on("dialog", lambda dialog: dialog.accept())
    await page.goto(f"/clients/{code}")
    call = page.locator("#intervention-list .intervention[data-type='call']")
    await expect(call.locator(".intervention-status")).to_have_text("To do")
    await expect(call).to_contain_text("Step 1")

    # Update the line and save it.
    await call.locator(".intervention-comment").fill("Client joint, rappeler jeudi")
    await call.locator(".save-intervention").click()
    await expect(call.locator(".intervention-comment")).to_have_value("Client joint, rappeler jeudi")

    # Prepare the call: nothing to send; the next step is shown (F-10).
    await call.locator(".act-prepare").click()
    await expect(page.locator("#next-step")).to_contain_text("Letter")
    # Done: every intervention is Done, so the console asks about the next one (F-11).
    await call.locator(".act-done").click()
    await expect(call.locator(".intervention-status")).to_have_text("Done")
    await expect(page.locator("#prepare-next-prompt")).to_be_visible(timeout=40_000)
    await page.click("#prepare-next-yes")
    letter = page.locator("#intervention-list .intervention[data-type='letter']")
    await expect(letter.locator(".intervention-status")).to_have_text("To do")

    # Prepare the letter: printed by the notifier, its intervention is Done by itself.
    await letter.locator(".act-prepare").click()
    await expect(letter.locator(".intervention-status")).to_have_text("Done", timeout=60_000)
    await expect(letter.locator(".letter-pdf")).to_be_visible(timeout=30_000)
    pdf = await page.request.get(await letter.locator(".letter-pdf").get_attribute("href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf" and (await pdf.body()).startswith(b"%PDF")
    await expect(page.locator("#prepare-next-prompt")).to_be_visible(timeout=40_000)

    # F-13: one document on the call; it opens, and nothing deletes nor replaces it.
    await call.locator(".attach-document input[type=file]").set_input_files(files=[
        {"name": "compte-rendu.txt", "mimeType": "text/plain", "buffer": b"Compte rendu d'appel"}])
    await call.locator(".attach-button").click()
    await expect(call.locator(".intervention-document")).to_have_text("📎 compte-rendu.txt")
    await expect(call.locator(".attach-document")).to_have_count(0)
    await expect(call.locator(".act-delete")).to_have_count(0)
    document = await page.request.get(await call.locator(".intervention-document").get_attribute("href"))
    assert document.ok and await document.text() == "Compte rendu d'appel"

    # F-12: an alert made by hand, deleted after confirmation.
    await page.click("#new-intervention summary")
    await page.select_option("#new-intervention-form select[name=kind]", "alert")
    await page.fill("#new-intervention-form input[name=label]", "Relancer après congés")
    await page.fill("#new-intervention-form input[name=due_at]",
                    (date.today() + timedelta(days=3)).isoformat() + "T09:00")
    await page.click("#create-intervention")
    alert = page.locator("#intervention-list .intervention", has_text="alert")
    await expect(alert).to_have_count(1)
    await alert.locator(".act-delete").click()
    await expect(page.locator("#intervention-list .intervention", has_text="alert")).to_have_count(0)

    # F-12: a promise to pay, with its amount and date; without them it is refused, kept.
    await page.click("#new-intervention summary")
    await page.select_option("#new-intervention-form select[name=kind]", "promise")
    await page.fill("#new-intervention-form input[name=comment]", "Promet de payer")
    await page.click("#create-intervention")
    await expect(page.locator("#new-intervention-form #form-error, #new-intervention-form .field-error").first
                 ).to_be_visible()
    await expect(page.locator("#new-intervention-form input[name=comment]")).to_have_value("Promet de payer")
    await page.fill("#new-intervention-form input[name=promise_amount]", "350.00")
    await page.fill("#new-intervention-form input[name=promise_date]", (date.today() + timedelta(days=10)).isoformat())
    await page.click("#create-intervention")
    promise = page.locator("#intervention-list .intervention", has_text="€350.00")
    await expect(promise).to_have_count(1)
    await expect(promise).to_contain_text("Promise")
