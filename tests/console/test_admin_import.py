"""The administration and the import in the browser (F-3, F-4, F-31), and the clear page
of an expired session (F-35)."""

from uuid import uuid4

from playwright.async_api import expect

from tests.console.conftest import Person, sign_in


async def test_f4_an_admin_creates_a_user_with_a_password_who_then_signs_in(signed_in, new_page, dossier_api):
    page, _admin = await signed_in("admin")
    await page.goto("/admin/users")
    name = f"nina-{uuid4().hex[:6]}"
    await page.fill("#new-user input[name=name]", name)
    await page.select_option("#f-role", "read_only")
    await page.fill("#new-user input[name=password]", "court")  # too short: said, and the name kept
    await page.click("#create-user")
    await expect(page.locator("#new-user .field-error")).to_contain_text("8 characters")
    await expect(page.locator("#new-user input[name=name]")).to_have_value(name)
    await page.fill("#new-user input[name=password]", "nina-password")
    await page.click("#create-user")
    await expect(page.locator("#admin-message")).to_have_text(f"User {name} created.")
    await expect(page.locator(f"#users .user[data-name='{name}']")).to_contain_text("Read only")

    other = await new_page()
    await sign_in(other, Person(name, "nina-password", "read_only"))
    await expect(other.locator("#whoami")).to_contain_text(name)
    await expect(other.locator("#nav-admin")).to_have_count(0)


async def test_f31_an_admin_registers_an_agency_and_rotates_its_secret(signed_in):
    page, _admin = await signed_in("admin")
    await page.goto("/admin/agencies")
    code = f"AG{uuid4().hex[:6].upper()}"
    await page.fill("#new-agency input[name=code]", code)
    await page.fill("#new-agency input[name=name]", f"Agence {code}")
    await page.click("#register-agency")
    await expect(page.locator("#credentials")).to_contain_text("X-Agency-Key")
    row = page.locator(f"#agencies .agency[data-code='{code}']")
    await expect(row).to_contain_text("pull only")
    await row.locator(".rotate").click()
    await expect(page.locator("#admin-message")).to_have_text("New signing secret issued.")
    await expect(page.locator(f"#agencies .agency[data-code='{code}'] td").nth(4)).to_have_text("2")
    await page.locator(f"#agencies .agency[data-code='{code}'] .deactivate").click()
    await expect(page.locator(f"#agencies .agency[data-code='{code}'] td").nth(3)).to_have_text("No")


async def test_f3_an_import_reports_every_rejected_row_with_its_field_and_reason(signed_in, dossier_api):
    page, _manager = await signed_in("manager")
    tag = uuid4().hex[:6].upper()
    csv = f"code,name,country\nIMP-{tag}-1,Import un,FR\n,Sans code,FR\nIMP-{tag}-3,Import trois,FR\n"
    await page.goto("/import")
    await page.select_option("#f-kind", "clients")
    await page.set_input_files("#import-file", files=[
        {"name": "clients.csv", "mimeType": "text/csv", "buffer": csv.encode()}])
    await page.click("#import-button")
    await expect(page.locator("#import-counts")).to_contain_text("3 rows read: 2 inserted")
    await expect(page.locator("#import-counts")).to_contain_text("1 rejected")
    error = page.locator("#import-errors .import-error")
    await expect(error).to_have_count(1)
    await expect(error.locator("td").nth(1)).to_have_text("code")
    assert (await dossier_api.get(f"/clients/IMP-{tag}-3")).status_code == 200


async def test_f35_an_expired_session_shows_a_clear_page_then_signing_in_again_works(signed_in, db):
    page, person = await signed_in("collector")
    await db.execute(
        "UPDATE user_sessions SET expires_at = now() - interval '1 second'"
        " WHERE user_id = (SELECT id FROM users WHERE name = $1)", person.name)
    await page.goto("/agenda")
    await expect(page.locator("#expired")).to_have_text("Your session has expired")
    await page.click("text=Sign in again")
    await sign_in(page, person)
    await expect(page.locator("#whoami")).to_contain_text(person.name)
