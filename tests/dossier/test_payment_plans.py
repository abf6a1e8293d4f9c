"""Payment plans and holds through the dossier API on the real stack (F-37): a plan takes
its items out of the scenario at once (its workflow, started from the outbox event, tells
the dossier), is listed with its instalments, is idempotent under an Idempotency-Key and
cancelled back into the scenario; bad plans are refused (and an item of an active plan is
not transferred) with a 422 naming the field; a
hold postpones the scenario's next step to its end, is shown on the card and lifted."""

from datetime import date, datetime, time, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from relance.planning import business_moment
from tests.conftest import eventually
from tests.dossier.test_transfers import registered_agency, transfer_body  # noqa: F401 - fixture

PARIS = ZoneInfo("Europe/Paris")
WORKING_DAYS = frozenset(range(1, 8))  # the test platform's BUSINESS_DAYS (tests/conftest.py)


def today() -> date:
    return datetime.now(PARIS).date()


@pytest.fixture(scope="module")
async def call_now(dossier_api) -> str:
    """A manual call due on the items' due date, then an email 60 days after it."""
    code = f"sc-plan-{uuid4().hex[:6]}"
    response = await dossier_api.post("/scenarios", json={"code": code, "name": "x", "steps": [
        {"action_type": "call", "delay_days": 0, "mode": "manual", "priority": 3},
        {"action_type": "email", "delay_days": 60, "template_code": "relance-email-1",
         "mode": "automatic"},
    ]})
    assert response.status_code == 201, response.text
    return code


async def _client(dossier_api, scenario: str, amounts=("100.00", "200.00", "400.00"),
                  due: date | None = None) -> tuple[str, dict[str, str]]:
    code = f"PLAN-{uuid4().hex[:8]}"
    due = due or today() - timedelta(days=30)
    response = await dossier_api.post("/clients", json={
        "code": code, "name": "Échéancier SA", "scenario_code": scenario,
        "items": [{"number": f"F-{n}", "due_date": str(due), "amount": a}
                  for n, a in enumerate(amounts, start=1)],
    })
    assert response.status_code == 201, response.text
    return code, {i["number"]: i["id"] for i in response.json()["open_items"]}


async def _open_call(dossier_api, code: str) -> dict:
    async def check():
        rows = (await dossier_api.get(f"/clients/{code}/interventions")).json()
        todo = [r for r in rows if r["status"] == "todo" and r["origin"] == "scenario"]
        return todo[0] if todo else None
    return await eventually(check, timeout=60)


async def _call_items_become(dossier_api, intervention_id: str, expected: set[str]) -> set[str]:
    async def check():
        detail = (await dossier_api.get(f"/interventions/{intervention_id}")).json()
        items = set(detail["details"].get("item_ids", []))
        return items if items == expected else None
    return await eventually(check, timeout=60)


def _plan_body(item_ids, *instalments, comment="accord du 2 décembre"):
    return {"item_ids": list(item_ids), "comment": comment,
            "instalments": [{"due_date": str(d), "amount": a} for d, a in instalments]}


async def test_f37_plan_takes_its_items_out_of_the_scenario_and_cancel_brings_them_back(
    dossier_api, call_now
) -> None:
    code, items = await _client(dossier_api, call_now)
    call = await _open_call(dossier_api, code)
    assert await _call_items_become(dossier_api, call["id"], set(items.values()))

    body = _plan_body([items["F-2"], items["F-3"]], (today() + timedelta(days=7), "250.00"),
                      (today() + timedelta(days=37), "350.00"))
    key = f"plan-{uuid4().hex}"
    created = await dossier_api.post(f"/clients/{code}/payment-plans", json=body,
                                     headers={"Idempotency-Key": key})
    assert created.status_code == 201, created.text
    plan = created.json()
    assert (plan["state"], plan["currency"], plan["total_amount"], plan["paid_amount"]) == (
        "active", "EUR", "600.00", "0.00")
    assert [(i["seq"], i["amount"], i["state"]) for i in plan["instalments"]] == [
        (1, "250.00", "pending"), (2, "350.00", "pending")]
    assert sorted(plan["item_ids"]) == sorted([items["F-2"], items["F-3"]])

    # The same request again (a retry) answers the same plan; the key with another body, 422.
    again = await dossier_api.post(f"/clients/{code}/payment-plans", json=body,
                                   headers={"Idempotency-Key": key})
    assert (again.status_code, again.json()["id"]) == (201, plan["id"])
    other = await dossier_api.post(f"/clients/{code}/payment-plans",
                                   json={**body, "comment": "autre"}, headers={"Idempotency-Key": key})
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"

    # While the plan holds, the open step chases F-1 only.
    assert await _call_items_become(dossier_api, call["id"], {items["F-1"]})
    listed = (await dossier_api.get(f"/clients/{code}/payment-plans")).json()
    assert [p["id"] for p in listed] == [plan["id"]]

    cancelled = await dossier_api.post(f"/payment-plans/{plan['id']}/cancel",
                                       json={"comment": "le client a changé d'avis"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["end_comment"] == "le client a changé d'avis"
    assert await _call_items_become(dossier_api, call["id"], set(items.values()))
    twice = await dossier_api.post(f"/payment-plans/{plan['id']}/cancel")
    assert twice.status_code == 409 and twice.json()["errors"][0]["field"] == "state"
    audit = (await dossier_api.get(f"/clients/{code}/audit")).json()["entries"]
    assert {("payment_plan", "create"), ("payment_plan", "cancel")} <= {
        (e["entity"], e["action"]) for e in audit}


@pytest.mark.usefixtures("registered_agency")
async def test_f37_bad_plans_are_refused_with_422_naming_the_field(dossier_api, call_now) -> None:
    code, items = await _client(dossier_api, call_now)
    other_code, other_items = await _client(dossier_api, call_now)
    soon, later = today() + timedelta(days=5), today() + timedelta(days=35)
    f1, f2 = items["F-1"], items["F-2"]  # 100 + 200 = 300 open
    cases = [
        (_plan_body([f1, f2]), "instalments"),
        (_plan_body([f1, f2], (later, "150.00"), (soon, "150.00")), "instalments.1.due_date"),
        (_plan_body([f1, f2], (soon, "150.00"), (soon, "150.00")), "instalments.1.due_date"),
        (_plan_body([f1, f2], (today() - timedelta(days=1), "300.00")), "instalments.0.due_date"),
        (_plan_body([f1, f2], (soon, "0.00"), (later, "300.00")), "instalments.0.amount"),
        (_plan_body([f1, f2], (soon, "-10.00"), (later, "310.00")), "instalments.0.amount"),
        (_plan_body([f1, f2], (soon, "100.00"), (later, "100.00")), "instalments"),
        (_plan_body([f1, other_items["F-1"]], (soon, "200.00")), "item_ids"),
        (_plan_body([], (soon, "100.00")), "item_ids"),
    ]
    for body, field in cases:
        response = await dossier_api.post(f"/clients/{code}/payment-plans", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["field"] == field, (body, response.json())
    sums = await dossier_api.post(f"/clients/{code}/payment-plans",
                                  json=_plan_body([f1, f2], (soon, "100.00"), (later, "100.00")))
    assert "300.00" in sums.json()["errors"][0]["reason"]  # what the items owe

    # An item already in an active plan cannot be in a second one.
    first = await dossier_api.post(f"/clients/{code}/payment-plans",
                                   json=_plan_body([f1], (soon, "100.00")))
    assert first.status_code == 201, first.text
    second = await dossier_api.post(f"/clients/{code}/payment-plans",
                                    json=_plan_body([f1, f2], (soon, "300.00")))
    assert second.status_code == 422
    assert second.json()["errors"][0] == {
        "field": "item_ids", "reason": "already in an active payment plan: F-1"}
    # An item of an active plan is not transferred; a transferred item is in no plan.
    transfer = await dossier_api.post(f"/clients/{code}/transfers", json=transfer_body([f1]))
    assert transfer.status_code == 422
    assert transfer.json()["errors"][0]["field"] == "item_ids.0"
    assert "payment plan" in transfer.json()["errors"][0]["reason"]
    transfer = await dossier_api.post(f"/clients/{code}/transfers", json=transfer_body([items["F-3"]]))
    assert transfer.status_code == 201, transfer.text
    moved = await dossier_api.post(f"/clients/{code}/payment-plans",
                                   json=_plan_body([items["F-3"]], (soon, "400.00")))
    assert moved.status_code == 422
    assert moved.json()["errors"][0] == {
        "field": "item_ids", "reason": "transferred to an agency: F-3"}
    # Nothing was written by the refused requests.
    assert len((await dossier_api.get(f"/clients/{code}/payment-plans")).json()) == 1
    assert (await dossier_api.get(f"/clients/{other_code}/payment-plans")).json() == []


async def _next_step_due(dossier_api, code: str, expected: datetime):
    async def check():
        prompt = (await dossier_api.get(f"/clients/{code}/dossier/prompt")).json()
        step = prompt.get("next_step")
        due = datetime.fromisoformat(step["due_at"]) if step else None
        return due if due == expected else None
    return await eventually(check, timeout=60)


async def test_f37_hold_postpones_the_next_step_is_shown_on_the_card_and_lifted(
    dossier_api, call_now
) -> None:
    # A week ago: the call's business moment is past whatever the hour and the weekday.
    due = today() - timedelta(days=7)
    code, _ = await _client(dossier_api, call_now, ("80.00",), due=due)
    call = await _open_call(dossier_api, code)
    done = await dossier_api.post(f"/interventions/{call['id']}/done", json={})
    assert done.status_code == 200, done.text
    email_due = business_moment(due + timedelta(days=60), "Europe/Paris", 8, WORKING_DAYS)
    assert await _next_step_due(dossier_api, code, email_due)

    past = await dossier_api.post(f"/clients/{code}/hold", json={"until": str(today()),
                                                                 "reason": "x"})
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "until"
    no_reason = await dossier_api.post(f"/clients/{code}/hold",
                                       json={"until": str(today() + timedelta(days=3))})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"

    until = due + timedelta(days=90)
    held = await dossier_api.post(f"/clients/{code}/hold",
                                  json={"until": str(until), "reason": "procédure amiable"})
    assert held.status_code == 200, held.text
    card = (await dossier_api.get(f"/clients/{code}")).json()
    assert (card["client"]["hold_until"], card["client"]["hold_reason"]) == (
        str(until), "procédure amiable")
    # The step due during the hold is postponed to its end.
    resumes = business_moment(until, "Europe/Paris", 8, WORKING_DAYS)
    assert resumes >= datetime.combine(until, time(8), PARIS)
    assert await _next_step_due(dossier_api, code, resumes)

    lifted = await dossier_api.delete(f"/clients/{code}/hold")
    assert lifted.status_code == 200, lifted.text
    assert (await dossier_api.get(f"/clients/{code}")).json()["client"]["hold_until"] is None
    assert await _next_step_due(dossier_api, code, email_due)
    again = await dossier_api.delete(f"/clients/{code}/hold")
    assert again.status_code == 409
