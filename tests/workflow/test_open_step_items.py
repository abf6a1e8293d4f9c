"""Issue 10, F-15: items put in dispute or under a specific action leave the scenario at
once. A client with 4 items, 2 of them then taken out (a dispute, a specific action): the
open scenario step, prepared afterwards, lists the 2 eligible items and its email's
`#items_amount_selected` covers those alone. The dossier service's activities against
the session's PostgreSQL, called in the order the dossier workflow calls them."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from relance.contracts.dossier import OpenInterventionRequest, PlanRequest, PrepareRequest
from relance.events import CommunicationRequested, EventEnvelope
from relance_dossier.activities.dossier import DossierActivities
from tests.workflow.conftest import seed_dossier


async def test_f15_the_open_step_sends_for_the_eligible_items_only(pool) -> None:
    scenario = f"f15-{uuid4().hex[:6]}"
    await pool.execute(
        "INSERT INTO scenarios (code, version, name, steps) VALUES ($1, 1, $1, $2)", scenario,
        [{"action_type": "email", "delay_days": 0, "template_code": "relance-email-1",
          "mode": "automatic_to_confirm"}])
    due = date.today() - timedelta(days=10)
    client_id, dossier_id, _ = await seed_dossier(pool, [
        (due, Decimal("100.00")), (due, Decimal("200.00")),
        (due, Decimal("300.00")), (due, Decimal("400.00"))], scenario)
    by_amount = {r["amount"]: r["id"] for r in await pool.fetch(
        "SELECT id, amount FROM items WHERE dossier_id = $1", dossier_id)}
    activities = DossierActivities(pool, "Europe/Paris", 8)

    def plan_request() -> PlanRequest:
        return PlanRequest(dossier_id=dossier_id, scenario_code=scenario, scenario_version=1,
                           completed_steps=0, previous_completed_at=None)

    plan = await activities.plan_next_step(plan_request())
    assert len(plan.item_ids) == 4
    intervention_id = uuid4()
    await activities.open_intervention(OpenInterventionRequest(
        intervention_id=intervention_id, dossier_id=dossier_id, scenario_code=scenario,
        scenario_version=1, step_index=0, step=plan.step, due_at=plan.due_at,
        item_ids=plan.item_ids))

    # The collector puts the 300 € item in dispute and the 400 € one under a specific action.
    await pool.execute("UPDATE items SET status = 'dispute' WHERE id = $1", by_amount[Decimal("300.00")])
    action_id = uuid4()
    await pool.execute(
        "INSERT INTO specific_actions (id, client_id, dossier_id, action_type, mode, due_at,"
        " created_by) VALUES ($1, $2, $3, 'call', 'manual', $4, 'user:ana')",
        action_id, client_id, dossier_id, datetime.now(UTC) + timedelta(days=3))
    await pool.execute("INSERT INTO specific_action_items VALUES ($1, $2)",
                       action_id, by_amount[Decimal("400.00")])
    # The item events make the workflow plan again: the open step's items are re-derived.
    await activities.plan_next_step(plan_request())
    details = await pool.fetchval("SELECT details FROM interventions WHERE id = $1", intervention_id)
    eligible = {by_amount[Decimal("100.00")], by_amount[Decimal("200.00")]}
    assert {UUID(i) for i in details["item_ids"]} == eligible

    communication_id = uuid4()
    await activities.prepare_intervention(PrepareRequest(
        intervention_id=intervention_id, actor="user:ana", communication_id=communication_id))
    event = await pool.fetchval(
        "SELECT event FROM outbox WHERE event_type = $1 AND event->>'aggregate_id' = $2",
        CommunicationRequested.event_type, str(communication_id))
    command = EventEnvelope.model_validate(event).payload_as(CommunicationRequested)
    assert sorted(i.amount for i in command.items) == [Decimal("100.00"), Decimal("200.00")]
    # What `#items_amount_selected` renders: the sum of the selected (eligible) items.
    assert sum(i.open_amount for i in command.items) == Decimal("300.00")
