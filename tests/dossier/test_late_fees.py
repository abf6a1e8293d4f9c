"""Late fees and interest (F-38): the pure rule, the SQL that computes it over the real
tables (checked against the rule and against figures computed by hand), the policies of
segments and clients, and the charge as fee items, idempotent, on the real stack."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from relance_dossier.domain.late_fees import (
    LateFeePolicy,
    PolicyOverride,
    effective_policy,
    fees_for,
    interest_days,
    late_interest,
    next_late_fee_run,
    recovery_indemnity,
)
from tests.dossier.test_users_roles import api_as, create_user, error_fields, new_code

ON = date(2026, 3, 31)
DEFAULTS = LateFeePolicy()


# ---- the rule ----------------------------------------------------------------------------


def test_f38_interest_is_open_amount_times_rate_times_days_over_365_rounded_half_up():
    # 1200.00 × 0.1215 × 59 / 365 = 23.5676… → 23.57
    assert late_interest(Decimal("1200.00"), Decimal("0.1215"), 59) == Decimal("23.57")
    # 0.05 × 0.10 × 365 / 365 = 0.005 exactly: half up gives a cent (half even would not).
    assert late_interest(Decimal("0.05"), Decimal("0.10"), 365) == Decimal("0.01")
    assert late_interest(Decimal("1000.00"), Decimal("0.1215"), 0) == Decimal("0.00")


def test_f38_days_run_after_the_due_date_or_the_last_day_charged():
    assert interest_days(date(2026, 1, 31), ON) == 59
    assert interest_days(date(2026, 1, 31), ON, charged_through=date(2026, 3, 1)) == 30
    assert interest_days(date(2026, 1, 31), ON, charged_through=date(2026, 4, 15)) == 0
    assert interest_days(date(2026, 4, 15), ON) == 0


def test_f38_only_late_open_invoices_bear_fees_and_the_indemnity_once_in_eur():
    late = dict(open_amount=Decimal("100.00"), due_date=ON - timedelta(days=10), on=ON)
    assert fees_for(DEFAULTS, kind="invoice", currency="EUR", **late).indemnity == Decimal("40.00")
    assert fees_for(DEFAULTS, kind="invoice", currency="USD", **late).indemnity == Decimal("0.00")
    assert fees_for(DEFAULTS, kind="invoice", currency="EUR", indemnity_charged=True,
                    **late).indemnity == Decimal("0.00")
    for kind in ("credit_note", "payment", "fee"):
        assert fees_for(DEFAULTS, kind=kind, currency="EUR", **late).interest == Decimal("0.00")
    not_due = fees_for(DEFAULTS, kind="invoice", currency="EUR", open_amount=Decimal("100"),
                       due_date=ON, on=ON)
    assert (not_due.interest, not_due.indemnity) == (Decimal("0.00"), Decimal("0.00"))
    disabled = LateFeePolicy(enabled=False)
    assert recovery_indemnity(disabled, "EUR", False) == Decimal("0.00")


def test_f38_the_clients_policy_wins_over_its_segments_field_by_field():
    segment = PolicyOverride(enabled=True, interest_rate=Decimal("0.10"), indemnity_amount=Decimal("15"))
    client = PolicyOverride(enabled=True, interest_rate=Decimal("0.05"))
    policy = effective_policy(DEFAULTS, segment, client)
    assert (policy.interest_rate, policy.indemnity_amount) == (Decimal("0.05"), Decimal("15"))
    assert effective_policy(DEFAULTS, None, None) == DEFAULTS
    assert not effective_policy(DEFAULTS, segment, PolicyOverride(enabled=False)).enabled
    assert effective_policy(DEFAULTS, PolicyOverride(auto_charge=True), None).auto_charge
    assert not effective_policy(DEFAULTS, PolicyOverride(auto_charge=True),
                                PolicyOverride(auto_charge=False)).auto_charge


PARIS = ZoneInfo("Europe/Paris")


def test_f38_the_late_fee_run_is_on_its_day_of_the_month_at_the_business_hour():
    def run_after(moment: datetime, run_day: int = 1) -> tuple[date, datetime]:
        return next_late_fee_run(moment, run_day, "Europe/Paris", 8)

    # Before this month's run day: this month's; after it (or at it): next month's.
    assert run_after(datetime(2026, 12, 5, 10, tzinfo=PARIS), run_day=10) == (
        date(2026, 12, 10), datetime(2026, 12, 10, 8, tzinfo=PARIS))
    assert run_after(datetime(2026, 12, 5, 10, tzinfo=PARIS)) == (
        date(2027, 1, 1), datetime(2027, 1, 1, 8, tzinfo=PARIS))
    assert run_after(datetime(2027, 1, 1, 8, tzinfo=PARIS))[0] == date(2027, 2, 1)
    assert run_after(datetime(2027, 1, 1, 7, 59, tzinfo=PARIS))[0] == date(2027, 1, 1)
    # The day is the business time zone's: 23:30 UTC on 31 January is already 1 February
    # in Paris, past midnight but before 08:00, so that morning's run is next.
    assert run_after(datetime(2027, 1, 31, 23, 30, tzinfo=UTC))[0] == date(2027, 2, 1)
    # A 28th exists every month; a Sunday counts (no one has to be at work).
    assert run_after(datetime(2027, 2, 28, 9, tzinfo=PARIS), run_day=28)[0] == date(2027, 3, 28)
    assert date(2027, 3, 28).isoweekday() == 7


# ---- on the real stack -------------------------------------------------------------------

# The hand-computed set, on ON = 2026-03-31, defaults (12.15 %, 40 € in EUR):
#   FA-1  EUR 1200.00 due 01-31: 59 days, 1200 × 0.1215 × 59 / 365 = 23.5676 → 23.57, + 40
#   FA-2  EUR  845.50 open of 1000 due 03-01: 30 days, 8.4434… → 8.44, + 40
#   FA-3  USD  500.00 due 02-28: 31 days, 5.1596… → 5.16, no indemnity (not EUR)
#   FA-4  not due yet, FA-5 paid, CN-1 a credit note: no fees
ITEMS = [
    {"number": "FA-1", "due_date": "2026-01-31", "amount": "1200.00"},
    {"number": "FA-2", "due_date": "2026-03-01", "amount": "1000.00", "open_amount": "845.50"},
    {"number": "FA-3", "due_date": "2026-02-28", "amount": "500.00", "currency": "USD"},
    {"number": "FA-4", "due_date": "2026-04-15", "amount": "300.00"},
    {"number": "FA-5", "due_date": "2026-01-01", "amount": "90.00", "open_amount": "0"},
    {"kind": "credit_note", "number": "CN-1", "due_date": "2026-01-01", "amount": "50.00"},
]


async def new_client(dossier_api, items, segment: str | None = None) -> str:
    code = new_code("FEES")
    response = await dossier_api.post("/clients", json={
        "code": code, "name": f"Client {code}", "segment": segment, "items": items})
    assert response.status_code == 201, response.text
    return code


def money(value) -> Decimal:
    return Decimal(str(value))


async def test_f38_late_fees_per_invoice_and_per_currency_match_the_hand_computed_set(dossier_api):
    code = await new_client(dossier_api, ITEMS)
    response = await dossier_api.get(f"/clients/{code}/late-fees", params={"on": str(ON)})
    assert response.status_code == 200, response.text
    fees = response.json()
    assert fees["policy"]["source"] == "default"
    assert money(fees["policy"]["interest_rate"]) == Decimal("0.1215")
    by_number = {i["number"]: i for i in fees["items"]}
    assert sorted(by_number) == ["FA-1", "FA-2", "FA-3"]
    expected = {"FA-1": (59, "23.57", "40.00"), "FA-2": (30, "8.44", "40.00"),
                "FA-3": (31, "5.16", "0.00")}
    for number, (days, interest, indemnity) in expected.items():
        item = by_number[number]
        assert item["days_late"] == item["interest_days"] == days
        assert (money(item["interest"]), money(item["indemnity"])) == (Decimal(interest), Decimal(indemnity))
        # The SQL and the pure rule agree on every row.
        rule = fees_for(DEFAULTS, kind="invoice", open_amount=money(item["open_amount"]),
                        due_date=date.fromisoformat(item["due_date"]), currency=item["currency"],
                        on=ON)
        assert (rule.interest, rule.indemnity) == (money(item["interest"]), money(item["indemnity"]))
    totals = {t["currency"]: t for t in fees["totals"]}
    assert (money(totals["EUR"]["interest"]), money(totals["EUR"]["indemnity"]),
            money(totals["EUR"]["total"]), totals["EUR"]["late_invoices"]) == (
        Decimal("32.01"), Decimal("80.00"), Decimal("112.01"), 2)
    assert (money(totals["USD"]["interest"]), money(totals["USD"]["total"])) == (
        Decimal("5.16"), Decimal("5.16"))


async def test_f38_segment_and_client_policies_override_the_defaults(dossier_api):
    segment = new_code("SEG")
    put = await dossier_api.put(f"/late-fee-policies/segment/{segment}",
                                json={"enabled": True, "interest_rate": "0.10", "indemnity_amount": "15.00"})
    assert put.status_code == 200, put.text
    late_year = str(ON - timedelta(days=365))
    # 0.05 × 0.10 × 365 / 365 = 0.005 → 0.01 (half up, on the item's total)
    in_segment = await new_client(dossier_api, [
        {"number": "FB-1", "due_date": late_year, "amount": "0.05"}], segment=segment)
    opted_out = await new_client(dossier_api, [
        {"number": "FC-1", "due_date": late_year, "amount": "100.00"}], segment=segment)
    assert (await dossier_api.put(f"/late-fee-policies/client/{opted_out}",
                                  json={"enabled": False})).status_code == 200

    fees = (await dossier_api.get(f"/clients/{in_segment}/late-fees", params={"on": str(ON)})).json()
    assert fees["policy"]["source"] == "segment"
    [item] = fees["items"]
    assert (money(item["interest"]), money(item["indemnity"])) == (Decimal("0.01"), Decimal("15.00"))
    off = (await dossier_api.get(f"/clients/{opted_out}/late-fees", params={"on": str(ON)})).json()
    assert off["policy"]["source"] == "client" and off["policy"]["enabled"] is False
    assert [money(t["total"]) for t in off["totals"]] == [Decimal("0.00")]

    listed = (await dossier_api.get("/late-fee-policies")).json()
    assert {(p["scope"], p["scope_key"]) for p in listed["policies"]} >= {
        ("segment", segment), ("client", opted_out)}
    assert money(listed["defaults"]["indemnity_amount"]) == Decimal("40.00")
    assert (listed["defaults"]["auto_charge"], listed["run_day"]) == (False, 1)
    assert off["policy"]["auto_charge"] is False  # the defaults': fees charged by hand
    auto = await dossier_api.put(f"/late-fee-policies/segment/{segment}",
                                 json={"interest_rate": "0.10", "auto_charge": True})
    assert auto.status_code == 200 and auto.json()["auto_charge"] is True
    charged_alone = (await dossier_api.get(f"/clients/{in_segment}/late-fees")).json()
    assert charged_alone["policy"]["auto_charge"] is True
    assert (await dossier_api.put(f"/late-fee-policies/segment/{segment}",
                                  json={"auto_charge": "sometimes"})).status_code == 422
    assert (await dossier_api.delete(f"/late-fee-policies/client/{opted_out}")).status_code == 204
    back = (await dossier_api.get(f"/clients/{opted_out}/late-fees", params={"on": str(ON)})).json()
    assert back["policy"]["source"] == "segment"


async def test_f38_bad_policies_and_charges_are_refused_naming_the_field(dossier_api):
    too_high = await dossier_api.put("/late-fee-policies/segment/X", json={"interest_rate": "1.5"})
    assert too_high.status_code == 422 and error_fields(too_high) == ["interest_rate"]
    unknown = await dossier_api.put(f"/late-fee-policies/client/{new_code('NONE')}", json={})
    assert unknown.status_code == 404 and error_fields(unknown) == ["key"]
    code = await new_client(dossier_api, ITEMS[:1])
    future = await dossier_api.post(f"/clients/{code}/late-fees/charge",
                                    json={"on": str(date.today() + timedelta(days=2))})
    assert future.status_code == 422 and error_fields(future) == ["on"]
    bad_day = await dossier_api.get(f"/clients/{code}/late-fees", params={"on": "2026-02-30"})
    assert bad_day.status_code == 422


async def test_f38_only_admins_set_policies_and_collectors_do_not_charge(dossier_api):
    manager = await create_user(dossier_api, "manager")
    code = await new_client(dossier_api, ITEMS[:1])
    async with api_as(dossier_api, manager["token"]) as as_manager:
        refused = await as_manager.put("/late-fee-policies/segment/X", json={"enabled": False})
        assert refused.status_code == 403
        assert (await as_manager.get(f"/clients/{code}/late-fees")).status_code == 200
    reader = await create_user(dossier_api, "read_only")
    async with api_as(dossier_api, reader["token"]) as as_reader:
        assert (await as_reader.post(f"/clients/{code}/late-fees/charge", json={})).status_code == 403


async def test_f38_charging_adds_fee_items_once_and_interest_never_twice_for_a_day(dossier_api):
    code = await new_client(dossier_api, ITEMS)
    before = (await dossier_api.get(f"/clients/{code}")).json()["client"]["balance"]

    first = await dossier_api.post(f"/clients/{code}/late-fees/charge",
                                   json={"on": str(ON), "comment": "mise en demeure"})
    assert first.status_code == 200, first.text
    charged = {(c["number"], c["kind"]): money(c["amount"]) for c in first.json()["charged"]}
    assert charged == {
        ("IND-FA-1", "indemnity"): Decimal("40.00"), ("IND-FA-2", "indemnity"): Decimal("40.00"),
        ("INT-FA-1-20260331", "interest"): Decimal("23.57"),
        ("INT-FA-2-20260331", "interest"): Decimal("8.44"),
        ("INT-FA-3-20260331", "interest"): Decimal("5.16"),
    }
    again = await dossier_api.post(f"/clients/{code}/late-fees/charge", json={"on": str(ON)})
    assert again.status_code == 200 and again.json()["charged"] == []

    card = (await dossier_api.get(f"/clients/{code}")).json()
    fee_items = {i["number"]: i for i in card["open_items"] if i["kind"] == "fee"}
    assert set(fee_items) == {number for number, _ in charged}
    assert fee_items["INT-FA-3-20260331"]["currency"] == "USD"
    # Fees are owed by the client: the balance (amounts of all currencies, as the card's
    # single figure) grows by what was charged.
    assert money(card["client"]["balance"]) - money(before) == sum(charged.values())

    after = (await dossier_api.get(f"/clients/{code}/late-fees", params={"on": str(ON)})).json()
    assert all(money(t["total"]) == 0 for t in after["totals"])
    assert all(i["indemnity_charged"] for i in after["items"] if i["currency"] == "EUR")

    # A month later only the new days bear interest: 1200 × 0.1215 × 30 / 365 = 11.98.
    later = date(2026, 4, 30)
    month = (await dossier_api.get(f"/clients/{code}/late-fees", params={"on": str(later)})).json()
    fa1 = next(i for i in month["items"] if i["number"] == "FA-1")
    assert (fa1["interest_from"], fa1["interest_days"], money(fa1["interest"]),
            money(fa1["indemnity"])) == ("2026-03-31", 30, Decimal("11.98"), Decimal("0.00"))
    second = (await dossier_api.post(f"/clients/{code}/late-fees/charge",
                                     json={"on": str(later)})).json()["charged"]
    assert {c["number"] for c in second} >= {"INT-FA-1-20260430"}
    # Only FA-4, late since 04-15, gets its indemnity now; FA-1 and FA-2 had theirs.
    assert [c["number"] for c in second if c["kind"] == "indemnity"] == ["IND-FA-4"]
    earlier = await dossier_api.post(f"/clients/{code}/late-fees/charge", json={"on": "2026-04-15"})
    assert earlier.json()["charged"] == []  # those days were charged already
    audit = (await dossier_api.get(f"/clients/{code}/audit")).json()
    assert any(a["action"] == "charge_late_fees" and a["comment"] == "mise en demeure"
               for a in audit["entries"])


async def test_f38_the_erp_payments_file_settles_a_charged_fee_like_an_invoice(dossier_api):
    """A client pays the indemnity Relance charged: the ERP's payments file names the fee
    item (kind `fee`), and its open amount falls to zero; a kind that does not exist is
    refused on its row."""
    from tests.dossier.test_import import imported

    code = await new_client(dossier_api, ITEMS)
    charged = await dossier_api.post(f"/clients/{code}/late-fees/charge", json={"on": str(ON)})
    assert charged.status_code == 200, charged.text
    reference = new_code("PAY")
    report = await imported(dossier_api, "payments",
                            "client_code,item_kind,item_number,amount,date,reference\n"
                            f"{code},fee,IND-FA-1,40.00,2026-04-02,{reference}\n"
                            f"{code},penalty,IND-FA-2,40.00,2026-04-02,{reference}-2\n")
    assert (report["inserted"], report["error_count"]) == (1, 1), report
    assert report["errors"][0]["field"] == "item_kind"
    assert "fee" in report["errors"][0]["reason"]
    card = (await dossier_api.get(f"/clients/{code}")).json()
    fees = {i["number"] for i in card["open_items"] if i["kind"] == "fee"}
    assert "IND-FA-1" not in fees and "IND-FA-2" in fees


async def test_f38_a_disputed_invoice_bears_no_fee_until_the_dispute_ends(dossier_api):
    """F-38 with F-15: while FA-1 is in dispute it is not charged; the days still run from
    its due date, so once the dispute is lifted its interest covers them all."""
    code = await new_client(dossier_api, ITEMS)
    card = (await dossier_api.get(f"/clients/{code}")).json()
    fa1 = next(i["id"] for i in card["open_items"] if i["number"] == "FA-1")
    disputed = await dossier_api.post(f"/clients/{code}/specific-actions", json={
        "item_ids": [fa1], "set_status": {"status": "dispute", "comment": "livraison contestée"},
        "next": {"follow": "scenario"}})
    assert disputed.status_code == 201, disputed.text
    during = (await dossier_api.get(f"/clients/{code}/late-fees", params={"on": str(ON)})).json()
    assert "FA-1" not in {i["number"] for i in during["items"]}
    assert {i["number"] for i in during["items"]} == {"FA-2", "FA-3"}

    lifted = await dossier_api.post(f"/clients/{code}/specific-actions", json={
        "item_ids": [fa1], "set_status": {"status": None, "comment": "litige levé"},
        "next": {"follow": "scenario"}})
    assert lifted.status_code == 201, lifted.text
    after = (await dossier_api.get(f"/clients/{code}/late-fees", params={"on": str(ON)})).json()
    back = next(i for i in after["items"] if i["number"] == "FA-1")
    assert (back["interest_days"], money(back["interest"])) == (59, Decimal("23.57"))


async def test_f38_a_transferred_invoice_bears_no_fee_until_it_comes_back(dossier_api, platform):
    """F-38 with F-27/F-28: while an agency holds FA-1 (its transfer dossier) it is not
    charged; cancelled within the window, it is back in the active dossier and its
    interest covers every day since its due date."""
    code = await new_client(dossier_api, ITEMS)
    card = (await dossier_api.get(f"/clients/{code}")).json()
    fa1 = next(i["id"] for i in card["open_items"] if i["number"] == "FA-1")
    transfer = await dossier_api.post(f"/clients/{code}/transfers", json={
        "item_ids": [fa1], "agency_code": platform.demo_agency_code,
        "next_follow_up_date": str(date.today() + timedelta(days=14)),
        "opening_comment": "Relances restées sans réponse"})
    assert transfer.status_code == 201, transfer.text
    during = (await dossier_api.get(f"/clients/{code}/late-fees", params={"on": str(ON)})).json()
    assert {i["number"] for i in during["items"]} == {"FA-2", "FA-3"}

    cancelled = await dossier_api.post(f"/transfers/{transfer.json()['id']}/cancel",
                                       json={"comment": "Le client a payé une partie"})
    assert cancelled.json() == {"mode": "immediate", "state": "closed"}, cancelled.text
    after = (await dossier_api.get(f"/clients/{code}/late-fees", params={"on": str(ON)})).json()
    back = next(i for i in after["items"] if i["number"] == "FA-1")
    assert (back["interest_days"], money(back["interest"])) == (59, Decimal("23.57"))
