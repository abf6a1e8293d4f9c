"""Prometheus metrics of the workflow worker's activities (served on /metrics, port 8300):
scenario steps that fell due against interventions closed, for the business dashboard.
Counted after the transaction commits, once per step (a retried activity whose earlier
attempt committed counts nothing)."""

from prometheus_client import Counter

SCENARIO_STEPS_DUE = Counter(
    "relance_scenario_steps_due_total",
    "Scenario steps that fell due and opened their intervention, by action type and mode",
    ["action_type", "mode"],
)
INTERVENTIONS_CLOSED = Counter(
    "relance_interventions_closed_total",
    "Interventions closed, by origin (scenario, manual, promise, ...) and status (done, skipped)",
    ["origin", "status"],
)
