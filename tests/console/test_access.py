"""Signing in, CSRF, visibility and roles in the console (F-4, F-35): the console never
shows or does more than the signed-in user may through the API."""

from datetime import date, timedelta
from uuid import uuid4

from playwright.async_api import expect


async def new_client(dossier_api, collector: str | None = None, items: int = 2, name: str | None = None) -> dict:
    code = f"CON-{uuid4().hex[:8].upper()}"
    body = {"code": code, "name": name or f"Client {code}", "country": "FR", "segment": "PME",
            "items": [{"number": f"F-{n}", "due_date": str(date.today() - timedelta(days=10 * n)),
                       "amount": f"{100 * n}.00"} for n in range(1, items + 1)]}
    response = await dossier_api.post("/clients", json=body)
    assert response.status_code == 201, response.text
    if collector:
        assigned = await dossier_api.put(f"/clients/{code}/collector", json={"collector_code": collector})
        assert assigned.status_code == 200, assigned.text
    return response.json()


async def test_f35_a_wrong_password_is_refused_and_the_right_one_opens_the_agenda(new_page, make_person):
    person = await make_person("collector")
    page = await new_page(locale=None)  # French by default
    await page.goto("/agenda")
    assert "/login" in page.url
    await page.fill("#username", person.name)
    await page.fill("#password", "not-the-password")
    await page.click("#sign-in")
    await expect(page.locator("#login-error")).to_contain_text("mot de passe")
    await expect(page.locator("#username")).to_have_value(person.name)  # what was typed is kept
    await page.fill("#password", person.password)
    await page.click("#sign-in")
    await expect(page.locator("h1")).to_contain_text("Agenda")
    await expect(page.locator("#whoami")).to_contain_text(person.name)
    cookie = next(c for c in await page.context.cookies() if c["name"] == "relance_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert person.password not in cookie["value"]

    await page.click("#logout")
    await expect(page.locator("#sign-in")).to_be_visible()
    await page.goto("/agenda")
    assert "/login" in page.url


async def test_f35_a_form_without_its_csrf_token_is_refused(signed_in, dossier_api):
    page, person = await signed_in("collector")
    client = await new_client(dossier_api, person.collector)
    code = client["client"]["code"]
    await page.goto(f"/clients/{code}")
    await expect(page.locator("#note-form")).to_be_visible()
    # A form posted from elsewhere carries no token (or a wrong one): refused, nothing written.
    await page.evaluate("""(code) => {
        const form = document.createElement('form');
        form.method = 'post'; form.action = '/clients/' + code + '/collector';
        const field = document.createElement('input');
        field.name = 'csrf_token'; field.value = 'forged'; form.appendChild(field);
        const collector = document.createElement('input');
        collector.name = 'collector_code'; collector.value = ''; form.appendChild(collector);
        document.body.appendChild(form); form.submit();
    }""", code)
    await expect(page.locator("#error-title")).to_have_text("Form refused")
    card = (await dossier_api.get(f"/clients/{code}")).json()
    assert card["client"]["collector_code"] == person.collector


async def test_f4_a_collector_opening_another_collectors_client_finds_nothing(signed_in, make_person, dossier_api):
    other = await make_person("collector")
    theirs = await new_client(dossier_api, other.collector)
    page, person = await signed_in("collector")
    mine = await new_client(dossier_api, person.collector)
    await page.goto(f"/clients/{mine['client']['code']}")
    await expect(page.locator("#client-name")).to_have_text(mine["client"]["name"])
    response = await page.goto(f"/clients/{theirs['client']['code']}")
    assert response.status == 404
    await expect(page.locator("#error-title")).to_have_text("Not found")
    await expect(page.locator("body")).not_to_contain_text(theirs["client"]["name"])
    # Their list shows their own clients only.
    await page.goto(f"/clients?codes={mine['client']['code']}%0A{theirs['client']['code']}")
    await expect(page.locator("#results .result")).to_have_count(1)
    await expect(page.locator("#unknown-codes")).to_contain_text(theirs["client"]["code"])


async def test_f4_a_read_only_user_sees_no_button_that_writes(signed_in, dossier_api):
    client = await new_client(dossier_api, name="<b onmouseover=alert(1)>Gras & Fils</b>")
    code = client["client"]["code"]
    page, _person = await signed_in("read_only")
    await page.goto(f"/clients/{code}")
    # What the API holds is shown as text, never run as HTML (autoescaping).
    await expect(page.locator("#client-name")).to_have_text("<b onmouseover=alert(1)>Gras & Fils</b>")
    await expect(page.locator("#client-name b")).to_have_count(0)
    await expect(page.locator("#statement .item-row")).to_have_count(2)
    await expect(page.locator("#contacts h2")).to_be_visible()
    await expect(page.locator("#interventions h2")).to_be_visible()
    for selector in ("#collector-form", "#specific-action", "#transfer", "#note-form", "#file-form",
                     "#new-contact", "#new-intervention", ".act-done", ".channel-actions", "#nav-import",
                     "#nav-admin"):
        await expect(page.locator(selector)).to_have_count(0)
    await page.goto(f"/clients?codes={code}")
    await expect(page.locator("#results .result")).to_have_count(1)
    await expect(page.locator("#mass-assign")).to_have_count(0)


async def test_f2_the_account_statement_shows_a_page_at_a_time(signed_in, dossier_api):
    page, person = await signed_in("collector")
    client = await new_client(dossier_api, person.collector, items=30)
    await page.goto(f"/clients/{client['client']['code']}")
    await expect(page.locator("#statement .item-row")).to_have_count(25)
    await expect(page.locator("#statement .pager .page")).to_have_text("Page 1 / 2")
    await page.click("#statement .pager .next")
    await expect(page.locator("#statement .item-row")).to_have_count(5)
    await expect(page.locator("#statement .item-row").first).to_have_attribute("data-number", "F-5")
    # The aging buckets still cover every item.
    await expect(page.locator("#aging .bucket-days_90_plus")).to_contain_text("€42,000.00")
