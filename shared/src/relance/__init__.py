"""Relance shared package: event envelope, topics, workflow ids, settings, outbox relay,
idempotent consumers, observability and the embedded development stack."""
