"""Specific actions through the dossier API on the real stack (F-15 .. F-19): the
three-step flow, items leaving the scenario, the internal interactive email, the tags
rendered on the selected items only, and the collector's commands as Updates."""

from datetime import UTC, date, datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message
from uuid import uuid4

import pytest

from tests.conftest import eventually


def _text(mail: Message) -> str:
    return mail.get_payload(decode=True).decode(mail.get_content_charset() or "utf-8")


@pytest.fixture(scope="module")
async def call_then_email(dossier_api) -> str:
    code = f"sc-act-{uuid4().hex[:6]}"
    response = await dossier_api.post("/scenarios", json={"code": code, "name": "x", "steps": [
        {"action_type": "call", "delay_days": 0, "mode": "manual", "priority": 4},
        {"action_type": "email", "delay_days": 0, "delay_from": "previous_step",
         "template_code": "relance-email-1", "mode": "automatic"},
    ]})
    assert response.status_code == 201, response.text
    return code


async def _client(dossier_api, scenario: str, email: str) -> tuple[str, dict[str, str]]:
    code = f"ACT-{uuid4().hex[:8]}"
    due = date.today() - timedelta(days=30)
    response = await dossier_api.post("/clients", json={
        "code": code, "name": "Actions SA", "scenario_code": scenario,
        "contacts": [{"name": "Compta", "channels": [
            {"type": "email", "value": email, "state": "validated", "is_default": True}]}],
        "items": [{"number": "F-1", "due_date": str(due), "amount": "100.00"},
                  {"number": "F-2", "due_date": str(due), "amount": "200.00"},
                  {"number": "F-3", "due_date": str(due), "amount": "400.00"}],
    })
    assert response.status_code == 201, response.text
    return code, {i["number"]: i["id"] for i in response.json()["open_items"]}


async def _todo(dossier_api, code: str):
    async def check():
        rows = (await dossier_api.get(f"/clients/{code}/interventions")).json()
        return [r for r in rows if r["status"] == "todo"] or None
    return await eventually(check, timeout=60)


async def test_f15_f16_f18_three_step_flow_and_items_leave_the_scenario(
    dossier_api, call_then_email, smtp_inbox, db
):
    client_mail = f"compta-{uuid4().hex[:6]}@client.example"
    code, items = await _client(dossier_api, call_then_email, client_mail)
    [call] = await _todo(dossier_api, code)

    # F-16 (1)+(2): F-3 is disputed; a colleague gets an internal interactive email.
    colleague = f"juriste-{uuid4().hex[:6]}@relance.example"
    flow = await dossier_api.post(f"/clients/{code}/specific-actions", json={
        "item_ids": [items["F-3"]],
        "set_status": {"status": "dispute", "comment": "livraison contestée"},
        "email": {"to": "colleague", "colleague_email": colleague, "note": "peux-tu regarder ?"},
        "next": {"follow": "scenario"},
    })
    assert flow.status_code == 201, flow.text
    assert flow.json()["status_set"] is True and flow.json()["action"] is None
    internal = _text(await smtp_inbox.wait_for(colleague, timeout=60))
    assert "F-3" in internal and "litige" in internal and "livraison contestée" in internal
    assert f"/clients/{code}" in internal  # the link to see the items (F-16)
    assert "F-1" not in internal

    # F-16 (2)+(3), F-17: an email to the client now, and an action copied from a template,
    # to confirm in 5 days, on F-1 only.
    in_5_days = datetime.now(UTC) + timedelta(days=5)
    flow = await dossier_api.post(f"/clients/{code}/specific-actions", json={
        "item_ids": [items["F-1"]],
        "email": {"to": "client"},
        "next": {"follow": "action", "copy_from": {"template_code": "relance-email-1"},
                 "mode": "automatic_to_confirm", "priority": 5, "label": "Relance F-1",
                 "due_at": in_5_days.isoformat()},
    })
    assert flow.status_code == 201, flow.text
    action = flow.json()["action"]
    assert (action["action_type"], action["mode"], action["status"], action["copied_from"]) == (
        "email", "automatic_to_confirm", "scheduled", "template relance-email-1")
    assert action["item_ids"] == [items["F-1"]]
    # F-18: the tags cover the selected item only (100,00 €, not the 700,00 € balance).
    mail = _text(await smtp_inbox.wait_for(client_mail, timeout=60))
    assert "Montant total dû : 100,00\u00a0€" in mail and "F-2" not in mail

    taken = await dossier_api.post(f"/clients/{code}/specific-actions", json={
        "item_ids": [items["F-1"]], "next": {"follow": "action", "action_type": "call"}})
    assert taken.status_code == 409
    assert taken.json()["errors"][0] == {"field": "item_ids",
                                         "reason": "already under a specific action: F-1"}

    # F-15: the call is done; the next scenario step chases F-2 only (F-1 is under an
    # action, F-3 in dispute).
    assert (await dossier_api.post(f"/interventions/{call['id']}/done")).status_code == 200
    # The next step lands on the business hour of the day (issue 10): before it, the
    # collector opens it now (F-11); after it, it is already open (409).
    async def email_step():
        rows = await db.fetch("SELECT details FROM interventions WHERE client_id ="
                              " (SELECT id FROM clients WHERE code = $1) AND step_index = 1", code)
        return rows or None

    async def opened_now_or_already():
        if await email_step():
            return True
        opened = await dossier_api.post(f"/clients/{code}/dossier/prepare-next")
        assert opened.status_code in (200, 409), opened.text
        return opened.status_code == 200 or None

    await eventually(opened_now_or_already, timeout=60)
    [step] = await eventually(email_step, timeout=60)
    assert step["details"]["item_ids"] == [items["F-2"]]

    # F-19: the action is among the actions to do, on the client card's list, by priority.
    listed = (await dossier_api.get("/actions", params={"client": code, "sort": "priority",
                                                        "desc": "true"})).json()
    assert listed[0]["id"] == action["id"] and listed[0]["kind"] == "specific_action"
    only_actions = (await dossier_api.get("/actions", params={
        "client": code, "kind": "specific_action"})).json()
    assert [a["id"] for a in only_actions] == [action["id"]]
    due_soon = (await dossier_api.get("/actions", params={
        "client": code, "due_before": (datetime.now(UTC) + timedelta(days=1)).isoformat()})).json()
    assert action["id"] not in [a["id"] for a in due_soon]
    on_card = (await dossier_api.get(f"/clients/{code}/specific-actions")).json()
    assert [a["id"] for a in on_card] == [action["id"]]
    card = (await dossier_api.get(f"/clients/{code}")).json()
    assert [(a["id"], a["label"]) for a in card["pending_specific_actions"]] == [(action["id"], "Relance F-1")]

    # Deleting needs confirmation; then the action is gone from the list, audited.
    unconfirmed = await dossier_api.delete(f"/specific-actions/{action['id']}")
    assert unconfirmed.status_code == 422 and unconfirmed.json()["errors"][0]["field"] == "confirm"
    deleted = await dossier_api.delete(f"/specific-actions/{action['id']}",
                                       params={"confirm": "true", "comment": "client a payé"})
    assert deleted.status_code == 204, deleted.text
    assert (await dossier_api.get(f"/specific-actions/{action['id']}")).json()["status"] == "deleted"
    assert (await dossier_api.get(f"/clients/{code}")).json()["pending_specific_actions"] == []
    audit = await db.fetchrow("SELECT actor, comment FROM audit_log WHERE entity = 'specific_action'"
                              " AND entity_id = $1 AND action = 'delete'", action["id"])
    assert (audit["actor"], audit["comment"]) == ("user:admin", "client a payé")


async def test_f17_to_confirm_action_now_is_sent_once_confirmed_and_manual_is_done(
    dossier_api, call_then_email, smtp_inbox
):
    client_mail = f"ap-{uuid4().hex[:6]}@client.example"
    code, items = await _client(dossier_api, call_then_email, client_mail)
    flow = await dossier_api.post(f"/clients/{code}/specific-actions", json={
        "item_ids": [items["F-2"], items["F-3"]],
        "next": {"follow": "action", "copy_from": {"scenario_code": call_then_email, "step_index": 1},
                 "mode": "automatic_to_confirm"},
    })
    assert flow.status_code == 201, flow.text
    action = flow.json()["action"]
    assert action["copied_from"] == f"{call_then_email} v1 step 1"

    async def awaiting():
        row = (await dossier_api.get(f"/specific-actions/{action['id']}")).json()
        return row if row["status"] == "awaiting_confirmation" else None

    await eventually(awaiting, timeout=60)
    confirmed = await dossier_api.post(f"/specific-actions/{action['id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "sent"
    mail = _text(await smtp_inbox.wait_for(client_mail, timeout=60))
    assert "Montant total dû : 600,00\u00a0€" in mail and "F-1" not in mail
    again = await dossier_api.post(f"/specific-actions/{action['id']}/confirm")
    assert again.status_code == 409

    manual = (await dossier_api.post(f"/clients/{code}/specific-actions", json={
        "item_ids": [items["F-1"]], "next": {"follow": "action", "action_type": "call",
                                             "comment": "appeler le DAF"}})).json()["action"]

    async def todo():
        row = (await dossier_api.get(f"/specific-actions/{manual['id']}")).json()
        return row if row["status"] == "todo" else None

    await eventually(todo, timeout=60)
    confirm_manual = await dossier_api.post(f"/specific-actions/{manual['id']}/confirm")
    assert confirm_manual.status_code == 409
    done = await dossier_api.post(f"/specific-actions/{manual['id']}/done", json={"comment": "fait"})
    assert done.status_code == 200 and done.json()["status"] == "done"


async def test_f17_invalid_actions_are_refused_with_the_field(dossier_api, call_then_email):
    code, items = await _client(dossier_api, call_then_email, "x@client.example")

    async def post(next_step, item_ids=None):
        return await dossier_api.post(f"/clients/{code}/specific-actions", json={
            "item_ids": item_ids or [items["F-1"]], "next": next_step})

    automatic_call = await post({"follow": "action", "action_type": "call", "mode": "automatic"})
    assert automatic_call.status_code == 422
    assert automatic_call.json()["errors"][0]["field"] == "next.mode"
    no_template = await post({"follow": "action", "action_type": "letter"})
    assert no_template.json()["errors"][0]["field"] == "next.template_code"
    past = await post({"follow": "action", "action_type": "call",
                       "due_at": (datetime.now(UTC) - timedelta(days=1)).isoformat()})
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "next.due_at"
    unknown = await post({"follow": "scenario"}, [str(uuid4())])
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "item_ids"
    bad_step = await post({"follow": "action", "copy_from": {"scenario_code": call_then_email,
                                                             "step_index": 9}})
    assert bad_step.json()["errors"][0]["field"] == "next.copy_from.step_index"
    no_colleague = await dossier_api.post(f"/clients/{code}/specific-actions", json={
        "item_ids": [items["F-1"]], "email": {"to": "colleague"}, "next": {"follow": "scenario"}})
    assert no_colleague.json()["errors"][0]["field"] == "email.colleague_email"
    # Nothing half-written: no action exists for the client.
    assert (await dossier_api.get(f"/clients/{code}/specific-actions")).json() == []


async def test_f17_an_action_written_from_scratch_sends_its_own_text_on_the_selected_items(
    dossier_api, call_then_email, smtp_inbox
):
    client_mail = f"own-{uuid4().hex[:6]}@client.example"
    code, items = await _client(dossier_api, call_then_email, client_mail)
    flow = await dossier_api.post(f"/clients/{code}/specific-actions", json={
        "item_ids": [items["F-1"], items["F-3"]],
        "next": {"follow": "action", "action_type": "email", "mode": "automatic",
                 "subject": "Votre promesse — {{ client.name }}",
                 "body": "Comme convenu au téléphone, merci de régler #items_amount_selected :\n"
                         "#items_list_selected"},
    })
    assert flow.status_code == 201, flow.text
    mail = await smtp_inbox.wait_for(client_mail, timeout=60)
    text = _text(mail)
    assert str(make_header(decode_header(mail["Subject"]))) == "Votre promesse — Actions SA"
    assert "Comme convenu au téléphone, merci de régler 500,00\u00a0€" in text
    assert "F-1" in text and "F-3" in text and "F-2" not in text
