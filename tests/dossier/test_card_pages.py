"""The client card a page of items at a time, with the aging buckets over all of them
(F-1, F-2, F-36): what the console's account statement shows."""

from datetime import date, timedelta
from decimal import Decimal
from uuid import uuid4


async def test_f36_the_card_pages_its_open_items_and_ages_the_whole_balance(dossier_api):
    code = f"PAGE-{uuid4().hex[:8]}"
    days_late = [-5, 1, 30, 31, 60, 61, 90, 91, 400]
    items = [{"number": f"F-{n:02}", "due_date": str(date.today() - timedelta(days=late)), "amount": "100.00"}
             for n, late in enumerate(days_late)]
    items.append({"kind": "credit_note", "number": "AV-1", "due_date": str(date.today() - timedelta(days=10)),
                  "amount": "40.00"})
    response = await dossier_api.post("/clients", json={"code": code, "name": "Pages SA", "items": items})
    assert response.status_code == 201, response.text

    whole = (await dossier_api.get(f"/clients/{code}")).json()
    assert len(whole["open_items"]) == whole["open_item_count"] == 10
    page = (await dossier_api.get(f"/clients/{code}", params={"items_limit": 4, "items_offset": 4})).json()
    assert [i["number"] for i in page["open_items"]] == [i["number"] for i in whole["open_items"][4:8]]
    assert page["open_item_count"] == 10
    assert {k: Decimal(v) for k, v in page["aging"].items()} == {
        "not_due": Decimal("100.00"), "days_1_30": Decimal("160.00"), "days_31_60": Decimal("200.00"),
        "days_61_90": Decimal("200.00"), "days_90_plus": Decimal("200.00")}
    assert sum(Decimal(v) for v in page["aging"].values()) == Decimal(page["client"]["balance"])
    refused = await dossier_api.get(f"/clients/{code}", params={"items_limit": 0})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "items_limit"
