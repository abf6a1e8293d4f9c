"""F-37 in the browser: on the client card's "Payment plan" panel a collector agrees a
plan on ticked items (a sum that does not match shows the reason and keeps what was
typed), sees its instalments and state, cancels it, and puts the client's dunning on hold
until a date, then lifts it."""

from datetime import date, timedelta
from uuid import uuid4

from playwright.async_api import expect


async def test_f37_payment_plan_panel_create_cancel_and_hold(signed_in, dossier_api) -> None:
    page, person = await signed_in("collector")
    code = f"PP-{uuid4().hex[:8].upper()}"
    response = await dossier_api.post("/clients", json={
        "code": code, "name": "Échéancier SA", "items": [
            {"number": f"F-{n}", "due_date": str(date.today() - timedelta(days=20)), "amount": a}
            for n, a in ((1, "100.00"), (2, "200.00"), (3, "400.00"))]})
    assert response.status_code == 201, response.text
    await dossier_api.put(f"/clients/{code}/collector", json={"collector_code": person.collector})
    page.on("dialog", lambda dialog: dialog.accept())

    await page.goto(f"/clients/{code}")
    panel = page.locator("#payment-plans")
    await expect(panel.locator("#no-plan")).to_be_visible()
    await panel.locator("#new-plan summary").click()
    await panel.locator(".plan-item[data-number='F-2']").check()
    await panel.locator(".plan-item[data-number='F-3']").check()
    first, second = date.today() + timedelta(days=7), date.today() + timedelta(days=37)
    await panel.locator("#f-due_date_0").fill(first.isoformat())
    await panel.locator("#f-amount_0").fill("250.00")
    await panel.locator("#f-due_date_1").fill(second.isoformat())
    await panel.locator("#f-amount_1").fill("300.00")
    await panel.locator("#create-plan").click()

    # 550 agreed for 600 owed: refused, with the reason; what was typed is kept.
    await expect(panel.locator("#error-instalments")).to_contain_text("600.00")
    await expect(panel.locator("#f-amount_0")).to_have_value("250.00")
    await expect(panel.locator(".plan-item[data-number='F-3']")).to_be_checked()
    await panel.locator("#f-amount_1").fill("350.00")
    await panel.locator("#create-plan").click()

    plan = panel.locator(".payment-plan[data-state='active']")
    await expect(plan).to_be_visible()
    await expect(plan.locator(".plan-items")).to_have_text("F-2, F-3")
    await expect(plan.locator(".instalment-row")).to_have_count(2)
    await expect(plan.locator(".instalment-row[data-state='pending']")).to_have_count(2)
    await expect(plan).to_contain_text("€600.00")
    plans = (await dossier_api.get(f"/clients/{code}/payment-plans")).json()
    assert [(p["state"], p["total_amount"]) for p in plans] == [("active", "600.00")]

    await plan.locator("input[name='comment']").fill("Nouvel accord à venir")
    await plan.locator(".cancel-plan").click()
    await expect(panel.locator(".payment-plan[data-state='cancelled']")).to_contain_text(
        "Nouvel accord à venir")
    assert (await dossier_api.get(f"/clients/{code}/payment-plans")).json()[0]["state"] == "cancelled"

    # The hold: until a date, with its reason; lifted early.
    until = date.today() + timedelta(days=15)
    await panel.locator("#hold-form #f-until").fill(until.isoformat())
    await panel.locator("#hold-form #f-reason").fill("Procédure amiable")
    await panel.locator("#set-hold").click()
    await expect(panel.locator("#hold-state")).to_contain_text("Procédure amiable")
    card = (await dossier_api.get(f"/clients/{code}")).json()
    assert card["client"]["hold_until"] == until.isoformat()
    await page.reload()
    await expect(page.locator("#hold-badge")).to_be_visible()
    await page.locator("#lift-hold").click()
    await expect(page.locator("#payment-plans #hold-form")).to_be_visible()
    assert (await dossier_api.get(f"/clients/{code}")).json()["client"]["hold_until"] is None


def test_f37_an_instalment_refused_shows_on_the_form_row_it_came_from() -> None:
    from relance_console.pages.payment_plans import _row_errors

    # Rows 0 and 2 left empty: the second instalment sent is row 3.
    shown = _row_errors({"instalments.1.due_date": "must be strictly increasing",
                         "instalments": "instalments.1.due_date: must be strictly increasing"},
                        filled=[1, 3])
    assert shown["due_date_3"] == "must be strictly increasing"
    assert "due_date_1" not in shown
