"""The dossier service's /metrics (its worker runs the activities) counts a scenario step
that falls due and the intervention closed Done (the business dashboard's steps due vs
done)."""

from datetime import date, timedelta
from uuid import uuid4

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import eventually


async def _samples(url: str) -> dict[tuple[str, tuple], float]:
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{url}/metrics")).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_scenario_step_due_and_intervention_done_are_counted(platform, dossier_api, smtp_inbox):
    worker = platform.running["dossier"].url  # the dossier service hosts the activities
    due = ("relance_scenario_steps_due_total", (("action_type", "email"), ("mode", "automatic")))
    done = ("relance_interventions_closed_total", (("origin", "scenario"), ("status", "done")))
    before = await _samples(worker)

    code = f"MET-{uuid4().hex[:8]}"
    email = f"compta+{code.lower()}@client.example"
    response = await dossier_api.post("/clients", json={
        "code": code, "name": "Metrics Client SA",
        "contacts": [{"name": "Compta", "channels": [
            {"type": "email", "value": email, "state": "validated", "is_default": True}]}],
        "items": [{"number": "F-1", "due_date": str(date.today() - timedelta(days=40)), "amount": "100.00"}],
    })
    assert response.status_code == 201, response.text
    await smtp_inbox.wait_for(email, timeout=90)

    async def counted():
        after = await _samples(worker)
        grew = all(after.get(key, 0) >= before.get(key, 0) + 1 for key in (due, done))
        return after if grew else None

    assert await eventually(counted, timeout=60)
