"""Late fees and languages in the browser (F-38, F-39): the client card's late-fees panel
with its figures per currency, charging them as fee items (managers), a contact's
language, and a template edited one language at a time on the admin page."""

from datetime import timedelta
from uuid import uuid4

from playwright.async_api import expect


async def test_f38_f39_late_fees_on_the_card_charged_then_a_contact_language_and_an_english_template(
    signed_in, dossier_api, db
):
    # 73 days late at 12.15 %: 1000 × 0.1215 × 73 / 365 = 24.30 (+ 40.00 € indemnity);
    # 500 USD: 12.15, no indemnity outside the euro.
    today = await db.fetchval("SELECT (now() AT TIME ZONE 'Europe/Paris')::date")
    late = str(today - timedelta(days=73))
    code = f"FEE-{uuid4().hex[:8].upper()}"
    created = await dossier_api.post("/clients", json={
        "code": code, "name": f"Client {code}",
        "contacts": [{"name": "Accounts", "channels": []}],
        "items": [{"number": "F-EUR", "due_date": late, "amount": "1000.00"},
                  {"number": "F-USD", "due_date": late, "amount": "500.00", "currency": "USD"}],
    })
    assert created.status_code == 201, created.text
    page, _person = await signed_in("manager")
    page.on("dialog", lambda dialog: dialog.accept())

    await page.goto(f"/clients/{code}")
    eur = page.locator("#late-fees tr.late-fee-total[data-currency='EUR']")
    usd = page.locator("#late-fees tr.late-fee-total[data-currency='USD']")
    await expect(eur.locator(".interest")).to_have_text("€24.30")
    await expect(eur.locator(".indemnity")).to_have_text("€40.00")
    await expect(eur.locator(".total")).to_have_text("€64.30")
    await expect(usd.locator(".interest")).to_contain_text("12.15")
    await expect(usd.locator(".indemnity")).to_contain_text("0.00")
    await expect(page.locator("#late-fees-policy")).to_contain_text("12.15 %")
    await expect(page.locator("#late-fees-auto")).to_have_count(0)  # the defaults: by hand
    # The client's policy has its fees charged by the monthly run: the panel says so.
    auto = await dossier_api.put(f"/late-fee-policies/client/{code}", json={"auto_charge": True})
    assert auto.status_code == 200, auto.text
    await page.reload()
    await expect(page.locator("#late-fees-auto")).to_have_text("charged automatically every month")
    await expect(page.locator("#late-fees-policy")).to_contain_text("client policy")

    await page.click("#charge-late-fees")
    await expect(page.locator(".flash")).to_contain_text("3 fee items added.")
    for number in ("IND-F-EUR", f"INT-F-EUR-{today:%Y%m%d}", f"INT-F-USD-{today:%Y%m%d}"):
        await expect(page.locator(f"#statement tr.item-row[data-number='{number}']")).to_be_visible()
    await expect(eur.locator(".total")).to_have_text("€0.00")
    await expect(page.locator("#charge-late-fees")).to_have_count(0)  # nothing left to charge

    # F-39: the contact reads English.
    contact = page.locator("#contacts .contact[data-name='Accounts']")
    await contact.locator("summary", has_text="Edit the contact").click()
    await contact.locator(".edit-contact input[name=language]").fill("en")
    await contact.locator(".edit-contact button[type=submit]").click()
    await expect(page.locator("#contacts .contact[data-name='Accounts'] .contact-language")).to_have_text("en")
    [stored] = (await dossier_api.get(f"/clients/{code}/contacts")).json()
    assert stored["language"] == "en"

    # F-39: edit the English version of a template; the French one is untouched.
    template = f"ui-locale-{uuid4().hex[:6]}"
    for locale, text in (("fr", "Bonjour, vous devez #late_interest."), ("en", "Hello, you owe #late_interest.")):
        made = await dossier_api.post("/templates", json={
            "code": template, "channel": "email", "locale": locale, "subject": "S", "body": text})
        assert made.status_code == 201, made.text
    await page.goto("/admin/scenarios")
    await page.click(f"#templates tr.template[data-code='{template}'][data-locale='en'] .edit-template")
    form = page.locator("#template-form")
    await expect(form.locator("input[name=locale]")).to_have_value("en")
    await expect(form.locator("textarea[name=body]")).to_have_value("Hello, you owe #late_interest.")
    await form.locator("textarea[name=body]").fill("Hello, interest so far: #late_interest.")
    await page.click("#save-template")
    await expect(page.locator(".flash")).to_contain_text("Template saved.")
    english = (await dossier_api.get(f"/templates/{template}", params={"locale": "en"})).json()
    french = (await dossier_api.get(f"/templates/{template}", params={"locale": "fr"})).json()
    assert english["body"] == "Hello, interest so far: #late_interest."
    assert french["body"] == "Bonjour, vous devez #late_interest."
