"""The notifier's small HTTP API next to /health and /metrics: the SMS provider's
delivery reports."""
