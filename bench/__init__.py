"""Relance benchmarks: `make bench` (or `python -m bench`).

Starts its own embedded stack (PostgreSQL, Kafka-protocol broker, Temporal dev server)
in a temporary directory and measures two paths, each as a ratio against a bare
baseline run on the same servers in the same run, never against absolute thresholds:

(a) events/s through outbox → relay → broker → idempotent consumer, against raw
    aiokafka produce → consume of the same payloads (`bench.outbox_pipeline`);
(b) dossier workflow starts/s against starts of an empty workflow, plus the time until
    every dossier opened its first intervention (`bench.workflow_starts`).

Results go to `bench/results/<timestamp>.json` and `bench/results/latest.json`."""
