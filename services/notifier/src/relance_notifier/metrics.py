"""Prometheus metrics of the notifier (served on /metrics)."""

from prometheus_client import Counter, Histogram

COMMUNICATIONS = Counter(
    "relance_notifier_communications_total",
    "Communications by final outcome (sent, failed, needs_attention)",
    ["channel", "status"],
)
SEND_ATTEMPTS = Counter(
    "relance_notifier_send_attempts_total",
    "Channel send attempts by outcome (ok, transient, permanent)",
    ["channel", "outcome"],
)
SEND_SECONDS = Histogram(
    "relance_notifier_send_seconds",
    "Time spent handing one message to its channel",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
COMMANDS_SKIPPED = Counter(
    "relance_notifier_commands_skipped_total",
    "Messages acknowledged without effect (duplicate, other_event, invalid)",
    ["reason"],
)
HANDLER_FAILURES = Counter(
    "relance_notifier_handler_failures_total",
    "Messages left unacknowledged after an error (they are redelivered)",
)
DELIVERY_REPORTS = Counter(
    "relance_notifier_delivery_reports_total",
    "SMS provider delivery reports by outcome (recorded, unchanged, ignored, unknown)",
    ["outcome"],
)
