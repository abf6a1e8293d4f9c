"""Collector commands on interventions, as Temporal Updates on the dossier workflow of the
real stack (dev server), through the dossier API (F-10 .. F-13)."""

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import eventually


@pytest.fixture(scope="module")
async def call_then_letter(dossier_api) -> str:
    """A manual call at the due date, a to-confirm letter 10 days later, then an email."""
    code = f"sc-int-{uuid4().hex[:6]}"
    response = await dossier_api.post("/scenarios", json={"code": code, "name": "Appel puis courrier", "steps": [
        {"action_type": "call", "delay_days": 0, "mode": "manual", "priority": 4, "label": "Appel"},
        {"action_type": "letter", "delay_days": 10, "delay_from": "previous_step",
         "template_code": "relance-courrier-2", "mode": "automatic_to_confirm", "priority": 3},
        {"action_type": "email", "delay_days": 30, "delay_from": "previous_step",
         "template_code": "relance-email-1", "mode": "automatic"},
    ]})
    assert response.status_code == 201, response.text
    return code


async def _client(dossier_api, scenario: str) -> str:
    code = f"INT-{uuid4().hex[:8]}"
    response = await dossier_api.post("/clients", json={
        "code": code, "name": "Interventions SARL", "scenario_code": scenario,
        "contacts": [{"name": "Compta", "channels": [
            {"type": "postal", "value": "Interventions SARL\n3 rue du Port\n13002 Marseille",
             "state": "validated", "is_default": True},
            {"type": "email", "value": f"{code.lower()}@client.example", "state": "validated",
             "is_default": True}]}],
        "items": [{"number": "F-1", "due_date": str(date.today() - timedelta(days=20)),
                   "amount": "700.00"}],
    })
    assert response.status_code == 201, response.text
    return code


async def _todo(dossier_api, code: str, count: int = 1):
    async def check():
        rows = (await dossier_api.get(f"/clients/{code}/interventions")).json()
        todo = [r for r in rows if r["status"] == "todo"]
        return todo if len(todo) == count else None
    return await eventually(check, timeout=60)


async def test_f10_f11_manual_step_done_prompts_for_the_next_and_a_printed_letter_closes_itself(
    dossier_api, call_then_letter, db
):
    code = await _client(dossier_api, call_then_letter)
    [call] = await _todo(dossier_api, code)
    assert (call["action_type"], call["mode"], call["step_index"]) == ("call", "manual", 0)

    # F-10: prepare a call: nothing to send; the next step (the letter) is shown.
    prepared = await dossier_api.post(f"/interventions/{call['id']}/prepare")
    assert prepared.status_code == 200, prepared.text
    assert prepared.json()["communication_id"] is None
    assert prepared.json()["next_step"]["action_type"] == "letter"
    assert prepared.json()["intervention"]["prepared_at"] is not None

    # F-10, F-11: Done; every intervention is Done, so the next one may be prepared now.
    done = await dossier_api.post(f"/interventions/{call['id']}/done", json={"comment": "client joint"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["intervention"]["status"] == "done"
    assert body["intervention"]["comment"] == "client joint"
    assert (body["open_interventions"], body["next_step_available"]) == (0, True)
    assert body["next_step"]["action_type"] == "letter"
    due = datetime.fromisoformat(body["next_step"]["due_at"])
    # Issue 10: the business hour (Paris) of the local day 10 days after the call was done.
    assert timedelta(days=9) < due - datetime.now(UTC) <= timedelta(days=11)
    assert (due.astimezone(ZoneInfo("Europe/Paris")).hour, due.minute) == (8, 0)

    async def scheduled():
        prompt = (await dossier_api.get(f"/clients/{code}/dossier/prompt")).json()
        return prompt if prompt["state"] == "scheduled" else None

    prompt = await eventually(scheduled, timeout=30)
    assert prompt["next_step_available"] is True
    assert prompt["next_step"]["action_type"] == "letter"

    again = await dossier_api.post(f"/interventions/{call['id']}/done")
    assert again.status_code == 409
    assert "already done" in again.json()["errors"][0]["reason"]

    # F-11: the collector accepts: the letter opens now instead of in 10 days.
    opened = await dossier_api.post(f"/clients/{code}/dossier/prepare-next")
    assert opened.status_code == 200, opened.text
    letter = opened.json()["intervention"]
    assert (letter["action_type"], letter["mode"], letter["status"]) == (
        "letter", "automatic_to_confirm", "todo")
    no_prompt = await dossier_api.post(f"/clients/{code}/dossier/prepare-next")
    assert no_prompt.status_code == 409
    assert "still To do" in no_prompt.json()["errors"][0]["reason"]

    # F-10: prepare the to-confirm letter: the notifier prints it, and the printed letter
    # marks the intervention Done by itself.
    printed = await dossier_api.post(f"/interventions/{letter['id']}/prepare")
    assert printed.status_code == 200, printed.text
    assert printed.json()["communication_id"] is not None
    twice = await dossier_api.post(f"/interventions/{letter['id']}/prepare")
    assert twice.status_code == 409

    async def letter_done():
        row = (await dossier_api.get(f"/interventions/{letter['id']}")).json()
        return row if row["status"] == "done" else None

    await eventually(letter_done, timeout=60)

    async def letter_traced():  # the trace follows the notifier's events (F-23)
        trace = (await dossier_api.get(f"/clients/{code}/communications")).json()
        return [(c["channel"], c["status"]) for c in trace if c["status"] == "sent"]

    assert await eventually(letter_traced, timeout=60) == [("letter", "sent")]

    async def email_next():  # the workflow records the letter's outcome after its row
        prompt = (await dossier_api.get(f"/clients/{code}/dossier/prompt")).json()
        return prompt if (prompt["next_step"] or {}).get("action_type") == "email" else None

    prompt = await eventually(email_next, timeout=30)
    assert prompt["next_step"]["action_type"] == "email"
    audit = await db.fetch(
        "SELECT actor, action FROM audit_log WHERE entity = 'intervention' AND entity_id = $1"
        " ORDER BY id", call["id"])
    assert [(a["actor"], a["action"]) for a in audit] == [("user:admin", "prepare"), ("user:admin", "done")]


async def test_f10_skip_moves_the_scenario_on(dossier_api, call_then_letter):
    code = await _client(dossier_api, call_then_letter)
    [call] = await _todo(dossier_api, code)
    skipped = await dossier_api.post(f"/interventions/{call['id']}/skip", json={"comment": "injoignable"})
    assert skipped.status_code == 200, skipped.text
    assert skipped.json()["intervention"]["status"] == "skipped"
    assert skipped.json()["next_step"]["action_type"] == "letter"

    edited = await dossier_api.patch(f"/interventions/{call['id']}", json={
        "comment": "rappeler lundi", "details": {"contact": "M. Martin"}})
    assert edited.status_code == 200, edited.text
    assert edited.json()["comment"] == "rappeler lundi"
    assert edited.json()["details"]["contact"] == "M. Martin"
    nothing = await dossier_api.patch(f"/interventions/{call['id']}", json={})
    assert nothing.status_code == 422
    assert "nothing to change" in nothing.json()["errors"][0]["reason"]


async def test_f12_f13_alert_by_hand_with_a_document_that_is_never_replaced_nor_deleted(
    dossier_api, call_then_letter, db
):
    code = await _client(dossier_api, call_then_letter)
    await _todo(dossier_api, code)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    alert = await dossier_api.post(f"/clients/{code}/interventions", json={
        "kind": "alert", "due_at": tomorrow, "comment": "rappeler après la réunion"})
    assert alert.status_code == 201, alert.text
    alert = alert.json()
    assert (alert["origin"], alert["status"], alert["created_by"]) == ("alert", "todo", "user:admin")

    attached = await dossier_api.put(f"/interventions/{alert['id']}/document",
                                     files={"file": ("accord.pdf", b"%PDF-1.4 accord", "application/pdf")})
    assert attached.status_code == 200, attached.text
    assert (attached.json()["document_name"], attached.json()["document_size"]) == ("accord.pdf", 15)
    read = await dossier_api.get(f"/interventions/{alert['id']}/document")
    assert (read.status_code, read.content) == (200, b"%PDF-1.4 accord")
    assert read.headers["content-type"] == "application/pdf"

    replaced = await dossier_api.put(f"/interventions/{alert['id']}/document",
                                     files={"file": ("autre.pdf", b"%PDF other", "application/pdf")})
    assert replaced.status_code == 409
    assert "cannot be replaced" in replaced.json()["errors"][0]["reason"]
    deleted = await dossier_api.delete(f"/interventions/{alert['id']}", params={"confirm": "true"})
    assert deleted.status_code == 409 and deleted.json()["errors"][0]["field"] == "document"
    # Not even straight in the database.
    with pytest.raises(Exception, match="cannot be replaced"):
        await db.execute("UPDATE interventions SET document = 'x' WHERE id = $1", alert["id"])
    assert (await dossier_api.get(f"/interventions/{alert['id']}/document")).content == b"%PDF-1.4 accord"

    # F-12: deletion needs confirmation.
    task = (await dossier_api.post(f"/clients/{code}/interventions", json={"kind": "manual"})).json()
    unconfirmed = await dossier_api.delete(f"/interventions/{task['id']}")
    assert unconfirmed.status_code == 422
    assert unconfirmed.json()["errors"][0]["field"] == "confirm"
    assert (await dossier_api.get(f"/interventions/{task['id']}")).status_code == 200
    confirmed = await dossier_api.delete(f"/interventions/{task['id']}",
                                         params={"confirm": "true", "comment": "doublon"})
    assert confirmed.status_code == 204
    assert (await dossier_api.get(f"/interventions/{task['id']}")).status_code == 404
    audit = await db.fetchrow("SELECT actor, comment FROM audit_log WHERE entity = 'intervention'"
                              " AND entity_id = $1 AND action = 'delete'", task["id"])
    assert (audit["actor"], audit["comment"]) == ("user:admin", "doublon")

    # A scenario step is skipped, not deleted.
    [call] = [r for r in await _todo(dossier_api, code, 2) if r["origin"] == "scenario"]
    refused = await dossier_api.delete(f"/interventions/{call['id']}", params={"confirm": "true"})
    assert refused.status_code == 409
    assert "skipped, not deleted" in refused.json()["errors"][0]["reason"]


async def test_f12_promise_to_pay_needs_amount_and_date(dossier_api, call_then_letter):
    code = await _client(dossier_api, call_then_letter)
    await _todo(dossier_api, code)
    missing = await dossier_api.post(f"/clients/{code}/interventions", json={
        "kind": "promise", "promise_date": str(date.today() + timedelta(days=7))})
    assert missing.status_code == 422
    assert missing.json()["errors"][0] == {"field": "promise_amount",
                                           "reason": "a promise to pay needs an amount"}
    promise = await dossier_api.post(f"/clients/{code}/interventions", json={
        "kind": "promise", "promise_amount": "700.00",
        "promise_date": str(date.today() + timedelta(days=7)), "comment": "virement annoncé"})
    assert promise.status_code == 201, promise.text
    body = promise.json()
    assert (body["origin"], body["promise_amount"], body["promise_date"], body["status"]) == (
        "promise", "700.00", str(date.today() + timedelta(days=7)), "todo")
    assert len(body["details"]["item_ids"]) == 1  # the open invoice
    assert (await dossier_api.get(f"/interventions/{uuid4()}")).status_code == 404


async def test_f10_prepare_sends_again_once_the_missing_contact_is_added(dossier_api, smtp_inbox):
    """The automatic email found no email contact: the step stays To do (needs attention);
    once the collector adds one, Prepare sends it and the sent email closes the step."""
    code = f"INT-{uuid4().hex[:8]}"
    created = await dossier_api.post("/clients", json={
        "code": code, "name": "Sans Email SAS",
        "items": [{"number": "F-9", "due_date": str(date.today() - timedelta(days=10)),
                   "amount": "320.00"}]})
    assert created.status_code == 201, created.text

    async def needs_attention():
        prompt = (await dossier_api.get(f"/clients/{code}/dossier/prompt")).json()
        return prompt if prompt.get("state") == "needs_attention" else None

    await eventually(needs_attention, timeout=60)
    [email_step] = await _todo(dossier_api, code)
    assert email_step["action_type"] == "email"

    address = f"{code.lower()}@client.example"
    contact = await dossier_api.post(f"/clients/{code}/contacts", json={
        "name": "Compta", "channels": [{"type": "email", "value": address, "state": "validated",
                                        "is_default": True}]})
    assert contact.status_code == 201, contact.text
    prepared = await dossier_api.post(f"/interventions/{email_step['id']}/prepare")
    assert prepared.status_code == 200, prepared.text
    assert "F-9" in (await smtp_inbox.wait_for(address, timeout=60)).get_payload(decode=True).decode()

    async def done():
        row = (await dossier_api.get(f"/interventions/{email_step['id']}")).json()
        return row if row["status"] == "done" else None

    await eventually(done, timeout=60)
