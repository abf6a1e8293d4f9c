"""The gateway's Prometheus metrics (F-34: failures and overdue agency answers show here)."""

from prometheus_client import Counter, Gauge

WEBHOOK_ATTEMPTS = Counter(
    "relance_gateway_webhook_attempts_total",
    "Webhook delivery attempts by outcome (delivered, failed, dead)",
    ["outcome"],
)
DELIVERIES_BY_STATUS = Gauge(
    "relance_gateway_deliveries", "Webhook deliveries by status (pending, delivered, dead)",
    ["status"],
)
DEAD_LETTERS = Counter(
    "relance_gateway_dead_letters_total", "Webhook deliveries that became dead letters"
)
INBOUND_REQUESTS = Counter(
    "relance_gateway_inbound_requests_total",
    "Agency API requests by endpoint and outcome "
    "(ok, replayed, unauthorized, conflict, idempotency_conflict, not_found, invalid)",
    ["endpoint", "outcome"],
)
TRANSFER_EVENTS_HANDLED = Counter(
    "relance_gateway_transfer_events_total",
    "transfer.events handled by type and outcome (stored, duplicate, ignored, unknown_agency)",
    ["event_type", "outcome"],
)
PLACEMENTS_BY_STATUS = Gauge(
    "relance_gateway_placements",
    "Placements with agencies by status (placed, cancellation_requested, cancelled)",
    ["status"],
)
