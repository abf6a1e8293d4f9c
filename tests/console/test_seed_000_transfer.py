"""Seed 000 in the browser (F-27 … F-29): transfer ticked items to an agency, the
transfer dossier with its opening comment, the gear on its next action, an immediate
cancel inside the window, and after the window a request shown struck through in red
until the agency (the simulator) validates or refuses."""

from contextlib import asynccontextmanager

import httpx
from playwright.async_api import expect

from tests.console.test_access import new_client
from tests.dossier.test_transfers import short_window  # noqa: F401 - a fixture

AGENCY = "RECOUVEO"  # the demo agency the simulator answers for


async def test_seed_000_transfer_two_of_three_items_then_cancel_at_once_within_24_hours(
    signed_in, dossier_api, platform
):
    page, person = await signed_in("collector")
    client = await new_client(dossier_api, person.collector, items=3)
    code = client["client"]["code"]
    await page.goto(f"/clients/{code}")
    await page.check("#statement .item-box[data-number='F-1']")
    await page.check("#statement .item-box[data-number='F-2']")
    await page.click("#transfer")
    await expect(page.locator("#selected-items tr")).to_have_count(2)
    await page.select_option("#f-agency_code", AGENCY)  # the active agencies (F-27)
    await page.fill("#f-opening_comment", "Trois relances sans réponse")
    await page.click("#transfer-ok")

    # The transfer dossier: its opening comment in the action detail (F-27).
    await expect(page.locator("#transfer-state")).to_have_text("Within the 24-hour window")
    await expect(page.locator("#transfer-actions .action-comment").first).to_have_text("Trois relances sans réponse")
    await expect(page.locator("#transfer-items .transfer-item[data-in-transfer='true']")).to_have_count(2)
    transfer_id = page.url.rsplit("/", 1)[-1]

    # The gear on the next action: end of transfer, back to active (F-28).
    await page.click("#gear-button")
    await expect(page.locator("#end-transfer")).to_be_checked()
    await expect(page.locator("#request-cancellation")).to_have_count(0)
    await page.click("#cancel-ok")  # without the closing comment: refused, said next to the field
    await expect(page.locator("#cancel-form .field-error")).to_be_visible()
    await page.fill("#cancel-form textarea[name=comment]", "Erreur de sélection")
    await page.click("#cancel-ok")
    await expect(page.locator("#transfer-message")).to_contain_text("back in the active dossier")
    await expect(page.locator("#transfer-state")).to_have_text("Closed")
    await expect(page.locator("#transfer-items .transfer-item[data-in-transfer='false']")).to_have_count(2)
    await expect(page.locator("#transfer-actions")).to_contain_text("Erreur de sélection")

    await page.click("#back-to-client")
    await expect(page.locator("#statement .item-row .holder")).to_have_text(["Active dossier"] * 3)
    # The agency never received anything about it.
    async with httpx.AsyncClient(base_url=platform.running["agency-simulator"].url) as simulator:
        received = (await simulator.get("/received")).json()
    assert transfer_id not in str(received)


@asynccontextmanager
async def simulator_policy(platform, policy: str):
    async with httpx.AsyncClient(base_url=platform.running["agency-simulator"].url) as simulator:
        before = (await simulator.get("/policy")).json()
        response = await simulator.put("/policy", json={**before, "policy": policy, "delay_seconds": 1})
        assert response.status_code == 200, response.text
        try:
            yield
        finally:
            await simulator.put("/policy", json=before)


async def _late_cancel(page, dossier_api, short_window, person, comment: str):  # noqa: F811
    client = await new_client(dossier_api, person.collector, items=2)
    item_ids = [i["id"] for i in client["open_items"]]
    transfer_id, _window_end = await short_window(client, item_ids, window=2.0, agency=AGENCY)
    await page.goto(f"/transfers/{transfer_id}")
    # The window ends and the agency takes the placement: the page follows by itself.
    await expect(page.locator("#transfer-dossier[data-state='placed_acknowledged']")).to_be_visible(timeout=60_000)
    await page.click("#gear-button")
    await expect(page.locator("#request-cancellation")).to_be_checked()
    await expect(page.locator("#end-transfer")).to_have_count(0)
    await page.fill("#cancel-form textarea[name=comment]", comment)
    await page.click("#cancel-ok")
    await expect(page.locator("#transfer-message")).to_contain_text("agency must validate")
    return client, transfer_id


async def test_seed_000_after_the_window_a_request_is_struck_through_in_red_until_the_agency_validates(
    signed_in, dossier_api, short_window, platform  # noqa: F811
):
    page, person = await signed_in("collector")
    async with simulator_policy(platform, "accept"):
        client, _ = await _late_cancel(page, dossier_api, short_window, person, "Réglé directement")
        dossier = page.locator("#transfer-dossier")
        await expect(dossier).to_have_attribute("data-state", "cancellation_pending")
        style = await dossier.locator("#transfer-state").evaluate(
            "e => [getComputedStyle(e.closest('.struck')).textDecorationLine, getComputedStyle(e).color]")
        assert style == ["line-through", "rgb(192, 38, 45)"]
        await expect(page.locator("#transfer-items .transfer-item[data-in-transfer='true']")).to_have_count(2)
        # The agency validates: back to active, without reloading by hand (F-29).
        await expect(dossier).to_have_attribute("data-state", "closed", timeout=60_000)
        await expect(page.locator("#transfer-items .transfer-item[data-in-transfer='false']")).to_have_count(2)
        await expect(page.locator("#transfer-actions")).to_contain_text("Réglé directement")
    await page.goto(f"/clients/{client['client']['code']}")
    await expect(page.locator("#statement .item-row .holder")).to_have_text(["Active dossier"] * 2)


async def test_seed_000_after_the_window_the_agencys_refusal_shows_with_its_reason(
    signed_in, dossier_api, short_window, platform  # noqa: F811
):
    page, person = await signed_in("collector")
    async with simulator_policy(platform, "refuse"):
        client, _ = await _late_cancel(page, dossier_api, short_window, person, "Merci d'arrêter")
        await expect(page.locator("#transfer-dossier")).to_have_attribute("data-state", "cancellation_pending")
        await expect(page.locator("#refusal-reason")).to_be_visible(timeout=60_000)
        await expect(page.locator("#transfer-dossier")).not_to_have_class("box struck")
        await expect(page.locator("#transfer-items .transfer-item[data-in-transfer='true']")).to_have_count(2)
    await page.goto(f"/clients/{client['client']['code']}")
    await expect(page.locator("#transfers .transfer-row.struck")).to_have_count(0)
    await expect(page.locator("#statement .item-row .holder").first).to_contain_text("Transfer")
