"""The development launcher: `relance up` (embedded PostgreSQL, Kafka-protocol broker,
Temporal, mail sink, supervised services, demo data) and the operator commands of the
`relance` CLI. It composes the services as processes; no service imports it."""
