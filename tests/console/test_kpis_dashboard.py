"""The KPI dashboard (F-36): signed in, a manager opens it from the navigation, filters on
a segment and reads the figures the API gives for that selection, drawn as inline SVG;
a collector's dashboard shows their own clients only (F-4)."""

from datetime import date, timedelta
from uuid import uuid4

from playwright.async_api import expect

from relance_console import i18n
from tests.console.conftest import sign_in


async def _client(dossier_api, segment: str, collector: str, items: list[tuple[int, str, str]]) -> str:
    code = f"KPC-{uuid4().hex[:8].upper()}"
    response = await dossier_api.post("/clients", json={
        "code": code, "name": f"Client {code}", "country": "FR", "segment": segment,
        "items": [{"number": f"F-{n}", "due_date": str(date.today() + timedelta(days=offset)),
                   "amount": amount, "currency": currency}
                  for n, (offset, amount, currency) in enumerate(items, start=1)]})
    assert response.status_code == 201, response.text
    assigned = await dossier_api.put(f"/clients/{code}/collector", json={"collector_code": collector})
    assert assigned.status_code == 200, assigned.text
    return code


def _money(amount: str, currency: str) -> str:
    i18n.current_locale.set("en")
    return i18n.money(amount, currency)


async def test_f36_the_dashboard_shows_the_figures_of_the_api(new_page, make_person, dossier_api):
    segment = f"KPI-{uuid4().hex[:6]}"
    mine = await make_person("collector")
    other = await make_person("collector")
    # Mine: 100 not due, 200 ten days late (1–30), 400 USD 45 days late; the other's: 50.
    await _client(dossier_api, segment, mine.collector, [(5, "100.00", "EUR"), (-10, "200.00", "EUR"),
                                                        (-45, "400.00", "USD")])
    await _client(dossier_api, segment, other.collector, [(-100, "50.00", "EUR")])
    api = (await dossier_api.get("/kpis", params={"segment": segment})).json()
    eur = next(c for c in api["currencies"] if c["currency"] == "EUR")
    assert eur["outstanding"] == "350.00" and eur["overdue"] == "250.00"

    manager = await make_person("manager")
    page = await sign_in(await new_page(), manager)
    await page.click("#nav-kpis")
    await expect(page.locator("h1")).to_have_text("Dashboard")
    await page.fill("#f-segment", segment)
    await page.click("#kpi-show")
    await expect(page.locator("#kpi-currencies tbody tr")).to_have_count(2)
    for figures in api["currencies"]:
        row = page.locator(f"#kpi-currencies tr[data-currency={figures['currency']}]")
        await expect(row.locator(".kpi-outstanding")).to_have_text(_money(figures["outstanding"], figures["currency"]))
        await expect(row.locator(".kpi-overdue")).to_have_text(_money(figures["overdue"], figures["currency"]))
        for bucket in figures["aging"]:
            bar = page.locator(f"#kpi-aging-{figures['currency']} text[data-bucket={bucket['bucket']}]")
            await expect(bar).to_have_text(_money(bucket["amount"], figures["currency"]))
    await expect(page.locator("#kpi-aging-EUR text[data-bucket=d1_30]")).to_have_text("€200.00")
    await expect(page.locator("#kpi-aging-USD text[data-bucket=d31_60]")).to_have_text("$400.00")
    await expect(page.locator("#kpi-outstanding-chart svg rect")).to_have_count(4)
    collectors = page.locator("#kpi-collectors tbody tr")
    await expect(collectors).to_have_count(2)
    await expect(page.locator(f"tr[data-collector={mine.collector}] .kpi-collector-outstanding")) \
        .to_have_text("€300.00$400.00")

    # A period running backwards is refused, the field named.
    await page.goto(f"/kpis?segment={segment}&from=2026-05-01&to=2026-04-01&as_of=2026-06-30")
    await expect(page.locator("#error-from")).to_contain_text("after it ends")

    # F-4: the collector's dashboard holds their own clients only.
    page = await sign_in(await new_page(), mine, f"/kpis?segment={segment}")
    await expect(page.locator("#kpi-collectors tbody tr")).to_have_count(1)
    await expect(page.locator(f"tr[data-collector={mine.collector}] .kpi-clients")).to_have_text("1")
    await expect(page.locator("#kpi-currencies tr[data-currency=EUR] .kpi-outstanding")).to_have_text("€300.00")
